// Shared by the llama.cpp library checks in this folder (test/ggml-base-patch.test.ts compiles them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

// FNV-1a over the bytes of the logits: equal only when every float is bit for bit the same.
inline uint64_t checksum(const float *v, int n) {
  uint64_t h = 1469598103934665603ull;
  const auto *b = reinterpret_cast<const unsigned char *>(v);
  for (size_t i = 0; i < sizeof(float) * n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

// Every file the process mapped whose path holds `needle`, as a JSON array: an install must give one
// copy of each library, the installed one.
inline std::string mapped_files(const char *needle) {
  std::ifstream maps("/proc/self/maps");
  std::string line, out;
  while (std::getline(maps, line)) {
    const auto at = line.find('/');
    if (at == std::string::npos || line.find(needle) == std::string::npos) continue;
    const std::string path = "\"" + line.substr(at) + "\"";
    if (out.find(path) == std::string::npos) out += (out.empty() ? "" : ",") + path;
  }
  return "[" + out + "]";
}
