#include "core/cpu.h"

#include <sched.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace steer {

static CpuFeatures read_features(std::string* model_name) {
  CpuFeatures f;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (model_name && model_name->empty() && line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) *model_name = line.substr(colon + 2);
    }
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w) {
      if (w == "avx2") f.avx2 = true;
      else if (w == "fma") f.fma = true;
      else if (w == "avx512f") f.avx512f = true;
      else if (w == "avx512bw") f.avx512bw = true;
      else if (w == "avx512vl") f.avx512vl = true;
      else if (w == "avx512dq") f.avx512dq = true;
      else if (w == "avx512_bf16") f.avx512_bf16 = true;
      else if (w == "amx_bf16") f.amx_bf16 = true;
    }
    break;  // one core's flags describe them all
  }
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = read_features(nullptr);
  return f;
}

std::string cpu_summary() {
  std::string name;
  CpuFeatures f = read_features(&name);
  std::string s = (name.empty() ? "unknown CPU" : name) + " (" +
                  std::to_string(std::thread::hardware_concurrency()) + " threads";
  if (f.amx_bf16) s += ", amx_bf16";
  if (f.avx512_bf16) s += ", avx512_bf16";
  else if (f.avx512f) s += ", avx512f";
  else if (f.avx2) s += ", avx2";
  return s + ")";
}

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? int(n) : 1;
}

}  // namespace steer
