# Kernel sources are added to kiln_core here; ISA-specific files get their flags with
# set_source_files_properties (see src/core/half_convert_avx512.cc in ../../CMakeLists.txt).
target_sources(kiln_core PRIVATE)
