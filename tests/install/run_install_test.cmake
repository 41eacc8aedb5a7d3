# cmake -P script for the install test: installs the build tree into WORK_DIR/prefix, then
# configures, builds and runs tests/install against it. Variables: STEER_BINARY_DIR,
# STEER_SOURCE_DIR, WORK_DIR, Torch_DIR, nlohmann_json_DIR, MODEL, GENERATOR.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: `${ARGN}` failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install "${STEER_BINARY_DIR}" --prefix "${prefix}")
if(EXISTS "${prefix}/include/steer/../../src")
  message(FATAL_ERROR "install test: src/ was installed")
endif()
run(${CMAKE_COMMAND} -S "${STEER_SOURCE_DIR}/tests/install" -B "${WORK_DIR}/build" -G "${GENERATOR}"
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}" "-DTorch_DIR=${Torch_DIR}"
    "-Dnlohmann_json_DIR=${nlohmann_json_DIR}")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/steer_install_test" "${MODEL}")
message(STATUS "${last_output}")
if(NOT last_output MATCHES "tokens:( [0-9]+)+")
  message(FATAL_ERROR "install test: unexpected output:\n${last_output}")
endif()
