# tools/accuracy_table.cc: the quantization accuracy sweep behind
# docs/ACCURACY.md (run through scripts/accuracy_table.sh; not part of ctest).
find_package(OpenMP REQUIRED COMPONENTS CXX)
add_executable(accuracy_table ${CMAKE_CURRENT_LIST_DIR}/accuracy_table.cc)
target_compile_options(accuracy_table PRIVATE ${QUANTD_WARNINGS})
target_link_libraries(accuracy_table
  PRIVATE quantd_engine absl::flags absl::flags_parse absl::str_format OpenMP::OpenMP_CXX)
