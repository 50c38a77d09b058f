# Included into llama.cpp's configure (CMAKE_PROJECT_INCLUDE) by scripts/build-ggml-cuda.sh: the
# libraries this build installs beside node-llama-cpp's prebuilt ones get the names and sonames
# those have, so that the process maps one copy of each.
#   GPTOSS_LLAMA_NAME  libllama's name without lib/.so, e.g. llama.cuda.v0.5.0 (node-llama-cpp's)
#   GPTOSS_GGML_NAME   libggml's, e.g. ggml.cuda.v0.5.0
# CMake names a shared library with a VERSION/SOVERSION libX.so.0 and asks for that soname; node-llama-
# cpp's files are unversioned (libggml-base.so, libllama.cuda.v0.5.0.so), and a libllama built as CMake
# names it would ask for libggml.so.0 and map the build folder's ggml beside node-llama-cpp's.
# The targets exist only once the top-level CMakeLists.txt has run: hence the deferred call.
if(NOT COMMAND gptoss_nlc_names)
  function(gptoss_nlc_names)
    foreach(t llama ggml ggml-base ggml-cuda)
      if(TARGET ${t})
        set_property(TARGET ${t} PROPERTY VERSION)
        set_property(TARGET ${t} PROPERTY SOVERSION)
      endif()
    endforeach()
    # Found beside each other in node-llama-cpp's folder, never in this build's: $ORIGIN alone (the build
    # folder's path would load a second copy wherever a name did not match). ggml-cuda keeps CMake's
    # path too, which also names the CUDA toolkit's libraries.
    foreach(t llama ggml ggml-base)
      if(TARGET ${t})
        set_target_properties(${t} PROPERTIES BUILD_WITH_INSTALL_RPATH ON INSTALL_RPATH "$ORIGIN")
      endif()
    endforeach()
    if(TARGET ggml-cuda)
      set_property(TARGET ggml-cuda PROPERTY BUILD_RPATH "$ORIGIN")
    endif()
    if(GPTOSS_LLAMA_NAME AND TARGET llama)
      set_property(TARGET llama PROPERTY OUTPUT_NAME "${GPTOSS_LLAMA_NAME}")
    endif()
    if(GPTOSS_GGML_NAME AND TARGET ggml)
      set_property(TARGET ggml PROPERTY OUTPUT_NAME "${GPTOSS_GGML_NAME}")
    endif()
  endfunction()
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL gptoss_nlc_names)
endif()
