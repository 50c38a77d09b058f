#include "llama_api.h"

#include <dlfcn.h>

namespace gptoss {

std::string LlamaApi::load(const std::string &path) {
  // RTLD_NOLOAD: the library node-llama-cpp loaded, with its registered backends. If it is not
  // loaded yet (a standalone test), load it; its RUNPATH finds ggml beside it.
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) handle = dlopen(path.c_str(), RTLD_NOW);
  if (handle == nullptr) {
    const char *error = dlerror();
    return std::string("cannot open ") + path + ": " + (error != nullptr ? error : "unknown error");
  }
#define GPTOSS_RESOLVE(name)                                                  \
  name = reinterpret_cast<decltype(name)>(dlsym(handle, #name));              \
  if (name == nullptr) return std::string("missing symbol " #name " in ") + path;
  GPTOSS_LLAMA_FUNCTIONS(GPTOSS_RESOLVE)
#undef GPTOSS_RESOLVE
  return "";
}

std::string GgmlApi::load(const std::string &path) {
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return "cannot find the loaded " + path;
  // dlsym on a library's handle also searches what it depends on: libggml-base and libggml.
#define GPTOSS_RESOLVE(name)                                                  \
  name = reinterpret_cast<decltype(name)>(dlsym(handle, #name));              \
  if (name == nullptr) return std::string("missing symbol " #name);
  GPTOSS_GGML_FUNCTIONS(GPTOSS_RESOLVE)
#undef GPTOSS_RESOLVE
  return "";
}

}  // namespace gptoss
