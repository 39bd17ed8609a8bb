# Kernel tests: each compares kernels against naive references over many shapes.
set(KILN_KERNEL_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
foreach(family gemm conv pool norm eltwise matmul layout reduce resize lstm layout_dtypes cast conv_integer
    integer generate indexing qgemm)
  add_executable(test_kernels_${family} ${KILN_KERNEL_TEST_DIR}/test_${family}.cc)
  target_link_libraries(test_kernels_${family} PRIVATE kiln_core)
  target_include_directories(test_kernels_${family} PRIVATE ${KILN_KERNEL_TEST_DIR}/.. src)
  add_test(NAME kernels_${family} COMMAND test_kernels_${family})
endforeach()

# The oneDNN conv tactic, when the core is built with it.
if(dnnl_FOUND)
  add_executable(test_kernels_onednn_conv ${KILN_KERNEL_TEST_DIR}/test_onednn_conv.cc)
  target_link_libraries(test_kernels_onednn_conv PRIVATE kiln_core)
  target_include_directories(test_kernels_onednn_conv PRIVATE ${KILN_KERNEL_TEST_DIR}/.. src)
  add_test(NAME kernels_onednn_conv COMMAND test_kernels_onednn_conv)
endif()

# Not a test: prints SGEMM GFLOP/s next to the machine's estimated peak.
add_executable(bench_gemm ${KILN_KERNEL_TEST_DIR}/bench_gemm.cc)
target_link_libraries(bench_gemm PRIVATE kiln_core)
target_include_directories(bench_gemm PRIVATE ${KILN_KERNEL_TEST_DIR}/.. src)

# Not a test: prints conv2d / pooling time at ResNet-50 and MobileNet-v2 layer shapes.
add_executable(bench_conv ${KILN_KERNEL_TEST_DIR}/bench_conv.cc)
target_link_libraries(bench_conv PRIVATE kiln_core)
target_include_directories(bench_conv PRIVATE ${KILN_KERNEL_TEST_DIR}/.. src)

# Not a test: prints 8-bit convolution / max pooling time at ResNet-50 and MobileNet-v2 shapes.
add_executable(bench_qconv ${KILN_KERNEL_TEST_DIR}/bench_qconv.cc)
target_link_libraries(bench_qconv PRIVATE kiln_core)
target_include_directories(bench_qconv PRIVATE ${KILN_KERNEL_TEST_DIR}/.. src)
