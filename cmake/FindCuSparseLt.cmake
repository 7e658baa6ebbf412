# Locates cuSPARSELt (header + shared library) and defines the imported target
# CuSparseLt::cusparseLt. The version is a named choice: cmake/CUSPARSELT_VERSION
# pins it (scripts/setup.sh installs the same one into
# third_party/cusparselt-<version>); -DCUSPARSELT_VERSION=X picks another
# installed one, -DCUSPARSELT_ROOT=DIR any folder with include/ and lib/
# (e.g. the GPU machine's torch wheel). Searched: CUSPARSELT_ROOT,
# third_party/cusparselt-<version>, then system paths. The version of the
# header found is printed, and a mismatch with the pin is a warning (the run
# time reports the library that loaded in every result).
file(STRINGS ${CMAKE_SOURCE_DIR}/cmake/CUSPARSELT_VERSION _csl_pin LIMIT_COUNT 1)
string(STRIP "${_csl_pin}" _csl_pin)
set(CUSPARSELT_VERSION "${_csl_pin}" CACHE STRING "cuSPARSELt version to build against (third_party/cusparselt-<version>)")
set(_csl_hints ${CUSPARSELT_ROOT} $ENV{CUSPARSELT_ROOT} ${CMAKE_SOURCE_DIR}/third_party/cusparselt-${CUSPARSELT_VERSION})
find_path(CUSPARSELT_INCLUDE_DIR cusparseLt.h HINTS ${_csl_hints} PATH_SUFFIXES include NO_CACHE)
find_library(CUSPARSELT_LIBRARY NAMES cusparseLt libcusparseLt.so.0 HINTS ${_csl_hints} PATH_SUFFIXES lib lib64 NO_CACHE)
if(NOT CUSPARSELT_INCLUDE_DIR OR NOT CUSPARSELT_LIBRARY)
  message(FATAL_ERROR "cuSPARSELt ${CUSPARSELT_VERSION} not found: run scripts/setup.sh "
    "(CUSPARSELT_VERSION=${CUSPARSELT_VERSION}) or pass -DCUSPARSELT_ROOT=<dir with include/ and lib/>")
endif()
set(CUSPARSELT_HEADER_VERSION "")
foreach(_part MAJOR MINOR PATCH)
  file(STRINGS ${CUSPARSELT_INCLUDE_DIR}/cusparseLt.h _line REGEX "^#define CUSPARSELT_VER_${_part} +[0-9]+")
  string(REGEX REPLACE ".* ([0-9]+).*" "\\1" _num "${_line}")
  list(APPEND CUSPARSELT_HEADER_VERSION "${_num}")
endforeach()
string(REPLACE ";" "." CUSPARSELT_HEADER_VERSION "${CUSPARSELT_HEADER_VERSION}")
message(STATUS "cuSPARSELt ${CUSPARSELT_HEADER_VERSION} (pinned ${_csl_pin}): ${CUSPARSELT_LIBRARY}")
if(NOT CUSPARSELT_HEADER_VERSION STREQUAL CUSPARSELT_VERSION)
  message(WARNING "cuSPARSELt ${CUSPARSELT_HEADER_VERSION} found in ${CUSPARSELT_INCLUDE_DIR}, "
    "not the chosen ${CUSPARSELT_VERSION}; results will name ${CUSPARSELT_HEADER_VERSION} (or what loads at run time)")
endif()
add_library(CuSparseLt::cusparseLt SHARED IMPORTED)
set_target_properties(CuSparseLt::cusparseLt PROPERTIES
  IMPORTED_LOCATION ${CUSPARSELT_LIBRARY}
  IMPORTED_NO_SONAME OFF
  INTERFACE_INCLUDE_DIRECTORIES ${CUSPARSELT_INCLUDE_DIR})
get_filename_component(CUSPARSELT_LIBRARY_DIR ${CUSPARSELT_LIBRARY} DIRECTORY)
