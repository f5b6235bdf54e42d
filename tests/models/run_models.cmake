# ctest driver for pytorch_architectures: export (cached) then check.
execute_process(COMMAND ${PYTHON} ${SCRIPT} ${CACHE_DIR} RESULT_VARIABLE export_rc)
if(NOT export_rc EQUAL 0)
  message(FATAL_ERROR "scripts/export_models.py failed (${export_rc})")
endif()
execute_process(COMMAND ${CHECK} ${CACHE_DIR} RESULT_VARIABLE check_rc)
if(NOT check_rc EQUAL 0)
  message(FATAL_ERROR "slimrt_model_check failed (${check_rc})")
endif()
