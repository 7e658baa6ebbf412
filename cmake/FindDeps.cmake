# jansson, cmocka, PCRE2 and utf8proc: system packages (scripts/setup.sh), or Debian packages
# unpacked with `dpkg -x` into SS_DEPS_DIR (default .deps/, made by
# scripts/fetch-deps.sh) for machines without a package registry.
set(SS_DEPS_DIR "${CMAKE_SOURCE_DIR}/.deps" CACHE PATH "Folder of unpacked .deb dependencies")
set(_ss_inc_hints ${SS_DEPS_DIR}/usr/include)
set(_ss_lib_hints ${SS_DEPS_DIR}/usr/lib/x86_64-linux-gnu ${SS_DEPS_DIR}/usr/lib)

function(ss_find_dep target header lib)
  string(TOUPPER ${lib} up)
  find_path(${up}_INCLUDE_DIR ${header} HINTS ${_ss_inc_hints})
  find_library(${up}_LIBRARY ${lib} HINTS ${_ss_lib_hints})
  if(NOT ${up}_INCLUDE_DIR OR NOT ${up}_LIBRARY)
    message(FATAL_ERROR "${lib} not found: run scripts/setup.sh (or scripts/fetch-deps.sh on a machine without apt)")
  endif()
  add_library(${target} UNKNOWN IMPORTED)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION ${${up}_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${${up}_INCLUDE_DIR})
  message(STATUS "${lib}: ${${up}_LIBRARY}")
endfunction()

ss_find_dep(SS::jansson jansson.h jansson)
ss_find_dep(SS::cmocka cmocka.h cmocka)
ss_find_dep(SS::pcre2 pcre2.h pcre2-8)     # the tokenizer's pre-tokenizer regexes
ss_find_dep(SS::utf8proc utf8proc.h utf8proc) # the tokenizer's NFC normalizer
