#include "llama_api.h"

#include <dlfcn.h>

namespace gptoss {

namespace {

// RTLD_NOLOAD: the library node-llama-cpp loaded, with its registered backends. If it is not
// loaded yet (a standalone test), load it; its RUNPATH finds ggml beside it. Null and `error` set
// when it cannot be opened.
void *open_library(const std::string &path, std::string &error) {
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) handle = dlopen(path.c_str(), RTLD_NOW);
  if (handle == nullptr) {
    const char *why = dlerror();
    error = std::string("cannot open ") + path + ": " + (why != nullptr ? why : "unknown error");
  }
  return handle;
}

}  // namespace

// Each function of a list from the library's handle (dlsym also searches what the library depends
// on: libggml-base and libggml for the ggml functions); the first missing one is the error.
#define GPTOSS_RESOLVE(name)                                     \
  name = reinterpret_cast<decltype(name)>(dlsym(handle, #name)); \
  if (name == nullptr) return std::string("missing symbol " #name " in ") + path;

// One load() for each API: open the library, then resolve the API's list.
#define GPTOSS_DEFINE_LOAD(Api, FUNCTIONS)            \
  std::string Api::load(const std::string &path) {    \
    std::string error;                                \
    void *handle = open_library(path, error);         \
    if (handle == nullptr) return error;              \
    FUNCTIONS(GPTOSS_RESOLVE)                         \
    return "";                                        \
  }

GPTOSS_DEFINE_LOAD(LlamaApi, GPTOSS_LLAMA_FUNCTIONS)
GPTOSS_DEFINE_LOAD(GgmlApi, GPTOSS_GGML_FUNCTIONS)

#undef GPTOSS_DEFINE_LOAD
#undef GPTOSS_RESOLVE

}  // namespace gptoss
