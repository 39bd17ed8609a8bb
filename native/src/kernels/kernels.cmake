# Kernel sources are added to kiln_core here; ISA-specific files get their flags with
# set_source_files_properties (see src/core/half_convert_avx512.cc in ../../CMakeLists.txt).
set(KILN_KERNEL_DIR ${CMAKE_CURRENT_LIST_DIR}/cpu)
target_sources(kiln_core PRIVATE
  ${KILN_KERNEL_DIR}/common/scratch.cc
  ${KILN_KERNEL_DIR}/activation/activation.cc
  ${KILN_KERNEL_DIR}/activation/activation_avx512.cc
  ${KILN_KERNEL_DIR}/gemm/gemm.cc
  ${KILN_KERNEL_DIR}/gemm/ukernel_scalar.cc
  ${KILN_KERNEL_DIR}/gemm/ukernel_avx2.cc
  ${KILN_KERNEL_DIR}/gemm/ukernel_avx512.cc
  ${KILN_KERNEL_DIR}/gemm/gemm_pack.cc
  ${KILN_KERNEL_DIR}/gemm/pack_avx512.cc
  ${KILN_KERNEL_DIR}/gemm/gemv_scalar.cc
  ${KILN_KERNEL_DIR}/gemm/gemv_avx2.cc
  ${KILN_KERNEL_DIR}/gemm/gemv_avx512.cc
  ${KILN_KERNEL_DIR}/conv/conv.cc
  ${KILN_KERNEL_DIR}/conv/im2col.cc
  ${KILN_KERNEL_DIR}/conv/im2col_avx512.cc
  ${KILN_KERNEL_DIR}/conv/depthwise.cc
  ${KILN_KERNEL_DIR}/conv/depthwise_avx512.cc
  ${KILN_KERNEL_DIR}/conv/pointwise_avx512.cc
  ${KILN_KERNEL_DIR}/conv/stem_avx512.cc
  ${KILN_KERNEL_DIR}/conv/conv_transpose.cc
  ${KILN_KERNEL_DIR}/conv/winograd.cc
  ${KILN_KERNEL_DIR}/conv/winograd_avx512.cc
  ${KILN_KERNEL_DIR}/pool/pool.cc
  ${KILN_KERNEL_DIR}/pool/maxpool_avx512.cc
  ${KILN_KERNEL_DIR}/pool/pool_separable.cc
  ${KILN_KERNEL_DIR}/norm/norm.cc
  ${KILN_KERNEL_DIR}/norm/norm_avx512.cc
  ${KILN_KERNEL_DIR}/softmax/softmax.cc
  ${KILN_KERNEL_DIR}/softmax/softmax_avx512.cc
  ${KILN_KERNEL_DIR}/common/shape.cc
  ${KILN_KERNEL_DIR}/eltwise/binary.cc
  ${KILN_KERNEL_DIR}/eltwise/unary.cc
  ${KILN_KERNEL_DIR}/eltwise/unary_avx512.cc
  ${KILN_KERNEL_DIR}/eltwise/binary_int.cc
  ${KILN_KERNEL_DIR}/eltwise/cast.cc
  ${KILN_KERNEL_DIR}/generate/generate.cc
  ${KILN_KERNEL_DIR}/indexing/indexing.cc
  ${KILN_KERNEL_DIR}/matmul/matmul.cc
  ${KILN_KERNEL_DIR}/layout/index_map_copy.cc
  ${KILN_KERNEL_DIR}/layout/layout.cc
  ${KILN_KERNEL_DIR}/reduce/reduce.cc
  ${KILN_KERNEL_DIR}/reduce/cumsum.cc
  ${KILN_KERNEL_DIR}/resize/resize.cc
  ${KILN_KERNEL_DIR}/rnn/lstm.cc
)
# 8-bit GEMM and convolution; the VNNI files get their own flags (AVX-VNNI, AVX512-VNNI).
target_sources(kiln_core PRIVATE
  ${KILN_KERNEL_DIR}/qgemm/qgemm.cc
  ${KILN_KERNEL_DIR}/qgemm/qgemm_avx2.cc
  ${KILN_KERNEL_DIR}/qgemm/qgemm_avx512.cc
  ${KILN_KERNEL_DIR}/qgemm/qconv.cc
  ${KILN_KERNEL_DIR}/qgemm/conv_integer.cc
  ${KILN_KERNEL_DIR}/qgemm/conv_integer_avx512.cc
  ${KILN_KERNEL_DIR}/qgemm/qdepthwise_avx512.cc
  ${KILN_KERNEL_DIR}/qgemm/quantize.cc
  ${KILN_KERNEL_DIR}/qgemm/qpool.cc
  ${KILN_KERNEL_DIR}/qgemm/qpool_avx512.cc
  ${KILN_KERNEL_DIR}/qgemm/quantize_avx512.cc
)
set_source_files_properties(${KILN_KERNEL_DIR}/qgemm/qgemm_avx2.cc PROPERTIES
  COMPILE_OPTIONS "-mavx2;-mfma;-mavxvnni")
set_source_files_properties(${KILN_KERNEL_DIR}/qgemm/qgemm_avx512.cc
  ${KILN_KERNEL_DIR}/qgemm/qdepthwise_avx512.cc ${KILN_KERNEL_DIR}/qgemm/quantize_avx512.cc
  ${KILN_KERNEL_DIR}/qgemm/qpool_avx512.cc
  PROPERTIES
  COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni;-Wno-maybe-uninitialized")
set(KILN_KERNEL_AVX2_SOURCES
  ${KILN_KERNEL_DIR}/gemm/ukernel_avx2.cc
  ${KILN_KERNEL_DIR}/gemm/gemv_avx2.cc
)
# GCC 12's avx512 headers trip -Wmaybe-uninitialized (their _mm512_undefined_* helpers).
set(KILN_KERNEL_AVX512_SOURCES
  ${KILN_KERNEL_DIR}/activation/activation_avx512.cc
  ${KILN_KERNEL_DIR}/gemm/ukernel_avx512.cc
  ${KILN_KERNEL_DIR}/gemm/gemv_avx512.cc
  ${KILN_KERNEL_DIR}/gemm/pack_avx512.cc
  ${KILN_KERNEL_DIR}/conv/depthwise_avx512.cc
  ${KILN_KERNEL_DIR}/conv/pointwise_avx512.cc
  ${KILN_KERNEL_DIR}/conv/stem_avx512.cc
  ${KILN_KERNEL_DIR}/conv/im2col_avx512.cc
  ${KILN_KERNEL_DIR}/conv/winograd_avx512.cc
  ${KILN_KERNEL_DIR}/pool/maxpool_avx512.cc
  ${KILN_KERNEL_DIR}/softmax/softmax_avx512.cc
  ${KILN_KERNEL_DIR}/norm/norm_avx512.cc
  ${KILN_KERNEL_DIR}/eltwise/unary_avx512.cc
  ${KILN_KERNEL_DIR}/qgemm/conv_integer_avx512.cc
)
set_source_files_properties(${KILN_KERNEL_AVX2_SOURCES} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma")
set_source_files_properties(${KILN_KERNEL_AVX512_SOURCES} PROPERTIES
  COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mfma;-Wno-maybe-uninitialized")
