# libFuzzer targets (clang only). tools/sanitize/run configures them with KILN_FUZZ=ON and
# compiles everything with -fsanitize=address,undefined,fuzzer-no-link, so one build serves the
# sanitized ctest suite and the fuzzers.
option(KILN_FUZZ "Build the libFuzzer targets of native/fuzz (needs clang)" OFF)
if(KILN_FUZZ)
  foreach(name plan shapes)
    add_executable(fuzz_${name} ${CMAKE_CURRENT_LIST_DIR}/fuzz_${name}.cc)
    target_link_libraries(fuzz_${name} PRIVATE kiln_core)
    target_include_directories(fuzz_${name} PRIVATE src ${CMAKE_CURRENT_LIST_DIR})
    target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    # Every input that once found a bug is replayed by ctest (libFuzzer runs files it is given).
    file(GLOB regressions ${CMAKE_CURRENT_LIST_DIR}/regressions/${name}/*)
    if(KILN_BUILD_TESTS AND regressions)
      add_test(NAME fuzz_${name}_regressions COMMAND fuzz_${name} ${regressions})
    endif()
  endforeach()
endif()
