# Locates cuSPARSELt (header + shared library) and defines the imported target
# CuSparseLt::cusparseLt. Searched: CUSPARSELT_ROOT, third_party/cusparselt
# (where scripts/setup.sh unpacks the PyPI wheel), then system paths.
set(_csl_hints ${CUSPARSELT_ROOT} $ENV{CUSPARSELT_ROOT} ${CMAKE_SOURCE_DIR}/third_party/cusparselt)
find_path(CUSPARSELT_INCLUDE_DIR cusparseLt.h HINTS ${_csl_hints} PATH_SUFFIXES include)
find_library(CUSPARSELT_LIBRARY NAMES cusparseLt libcusparseLt.so.0 HINTS ${_csl_hints} PATH_SUFFIXES lib lib64)
if(NOT CUSPARSELT_INCLUDE_DIR OR NOT CUSPARSELT_LIBRARY)
  message(FATAL_ERROR "cuSPARSELt not found: run scripts/setup.sh or pass -DCUSPARSELT_ROOT=<dir with include/ and lib/>")
endif()
message(STATUS "cuSPARSELt: ${CUSPARSELT_LIBRARY}")
add_library(CuSparseLt::cusparseLt SHARED IMPORTED)
set_target_properties(CuSparseLt::cusparseLt PROPERTIES
  IMPORTED_LOCATION ${CUSPARSELT_LIBRARY}
  IMPORTED_NO_SONAME OFF
  INTERFACE_INCLUDE_DIRECTORIES ${CUSPARSELT_INCLUDE_DIR})
get_filename_component(CUSPARSELT_LIBRARY_DIR ${CUSPARSELT_LIBRARY} DIRECTORY)
