# Fails when the runtime library carries builder code: the engine writer, weight conversion, ONNX
# import, the passes or the build pipeline. Those live in slimrt_builder; the runtime only reads
# engines (the header codec and checksums the writer also uses are the runtime's).
#
#   cmake -DLIB=libslimrt.a -DSOURCES="<slimrt's sources>" -DINCLUDE_DIR=include/slimrt \
#         -P check_no_builder_code.cmake
#
# Two checks:
#   1. symbols: `nm -C --defined-only LIB` must define nothing matching kBuilderSymbols (local
#      symbols included, so a writer helper in an anonymous namespace is caught too);
#   2. includes: no runtime source, no header beside one and no runtime public header
#      (INCLUDE_DIR/*.h) includes a builder header (slimrt/builder/...) or a builder-only source
#      folder's header (builder/, passes/, onnx/).
# SOURCES and INCLUDE_DIR may be left out to run the symbol check alone (e.g. on an old library).

# Demangled-name patterns of code that belongs to slimrt_builder.
set(kBuilderSymbols
    "slimrt::write_engine\\("                 # the engine writer's entry points
    "slimrt::EngineWrite(Hooks|Stats)"        # its hook and statistics types, in any signature
    "flatbuffers::FlatBufferBuilder"          # building engine metadata (the parser only reads it)
    "slimrt::convert_float_elements\\("       # weight conversion (precision pass and writer)
    "slimrt::convert_precision\\("            # the precision pass
    "slimrt::run_passes\\("                   # the graph passes
    "slimrt::import_onnx_"                    # ONNX import
    "slimrt::build_engine\\("                 # the build pipeline
    "slimrt::resolve_profiles\\(")

if(NOT LIB)
  message(FATAL_ERROR "usage: cmake -DLIB=libslimrt.a [-DSOURCES=...] [-DINCLUDE_DIR=...] -P ${CMAKE_CURRENT_LIST_FILE}")
endif()
execute_process(COMMAND nm -C --defined-only ${LIB} OUTPUT_VARIABLE defined RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIB}")
endif()
set(problems "")
foreach(pattern IN LISTS kBuilderSymbols)
  string(REGEX MATCH "[^\n]*${pattern}[^\n]*" first "${defined}")
  if(first)
    string(APPEND problems "\n  /${pattern}/: ${first}")
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "libslimrt defines builder symbols (they belong in slimrt_builder):${problems}")
endif()

# Runtime sources, the headers in their folders and the runtime's public headers.
set(files "")
foreach(source IN LISTS SOURCES)
  if(source MATCHES "\\.(cpp|cu|h|cuh)$" AND EXISTS "${source}")
    list(APPEND files "${source}")
    get_filename_component(dir "${source}" DIRECTORY)
    file(GLOB beside "${dir}/*.h" "${dir}/*.cuh")
    list(APPEND files ${beside})
  endif()
endforeach()
if(INCLUDE_DIR)
  file(GLOB public "${INCLUDE_DIR}/*.h")
  list(APPEND files ${public})
endif()
list(REMOVE_DUPLICATES files)
foreach(file IN LISTS files)
  file(STRINGS "${file}" lines REGEX "^#include \"(slimrt/builder/|builder/|passes/|onnx/)")
  if(lines)
    string(APPEND problems "\n  ${file}: ${lines}")
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "runtime files include builder headers:${problems}")
endif()
list(LENGTH kBuilderSymbols num_patterns)
list(LENGTH files num_files)
message(STATUS "libslimrt has no builder code: no symbol matches ${num_patterns} builder patterns, "
               "no builder include in ${num_files} runtime files")
