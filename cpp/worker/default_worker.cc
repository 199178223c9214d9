// goray default_worker: the worker process a goray node starts to run C++ tasks.
//
//   default_worker [-- DRIVER_EXE DRIVER_ARGS...]
//
// It loads the user's shared libraries from the code search path (env GORAY_CODE_SEARCH_PATH,
// ':'-separated; a directory stands for every *.so directly in it, in name order; a file for
// itself), and serves tasks through the goray_internal_execute / goray_internal_has_function
// symbols that <ray/api.h> defines in every library. When no library provides code, and the node
// gave the driver's command line after "--", it re-executes the driver program, whose ray::Init
// turns it into a worker that runs the driver binary's own RAY_REMOTE functions.
//
// Only the C ABI is used here: this program never includes <ray/api.h>.
#include <ray/c_api.h>

#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

/// A loaded user library that provides remote functions.
struct Library {
  std::string path;
  void *handle;
  ray_execute_fn execute;
  ray_has_function_fn has_function;
};

/// The libraries dispatch() asks, in order.
struct Libraries {
  std::vector<Library> libs;
};

bool EndsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Expands the code search path into the library files to load, in order, without duplicates.
std::vector<std::string> CollectLibraryPaths(const std::string &search_path) {
  std::vector<std::string> files;
  size_t start = 0;
  while (start <= search_path.size()) {
    size_t end = search_path.find(':', start);
    if (end == std::string::npos) end = search_path.size();
    std::string entry = search_path.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) continue;
    struct stat st;
    if (stat(entry.c_str(), &st) != 0) {
      std::fprintf(stderr, "default_worker: code search path entry %s: %s\n", entry.c_str(),
                   std::strerror(errno));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR *dir = opendir(entry.c_str());
      if (dir == nullptr) {
        std::fprintf(stderr, "default_worker: cannot open directory %s: %s\n", entry.c_str(),
                     std::strerror(errno));
        continue;
      }
      std::vector<std::string> found;
      while (struct dirent *de = readdir(dir)) {
        std::string name = de->d_name;
        if (!EndsWith(name, ".so")) continue;
        std::string full = entry + (EndsWith(entry, "/") ? "" : "/") + name;
        struct stat fst;
        if (stat(full.c_str(), &fst) == 0 && S_ISREG(fst.st_mode)) found.push_back(full);
      }
      closedir(dir);
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(entry);
    }
    if (end == search_path.size()) break;
  }
  std::vector<std::string> unique;
  for (const auto &f : files) {
    if (std::find(unique.begin(), unique.end(), f) == unique.end()) unique.push_back(f);
  }
  return unique;
}

/// Loads every library; keeps the ones that export both goray symbols.
void LoadLibraries(const std::vector<std::string> &paths, Libraries *out) {
  for (const auto &path : paths) {
    dlerror();
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char *why = dlerror();
      std::fprintf(stderr, "default_worker: failed to load library %s: %s\n", path.c_str(),
                   why != nullptr ? why : "unknown error");
      continue;
    }
    dlerror();
    void *execute = dlsym(handle, RAY_LIBRARY_EXECUTE_SYMBOL);
    const char *execute_error = dlerror();
    void *has_function = dlsym(handle, RAY_LIBRARY_HAS_FUNCTION_SYMBOL);
    const char *has_function_error = dlerror();
    if (execute == nullptr || has_function == nullptr) {
      std::fprintf(stderr,
                   "default_worker: loaded library %s, but it does not provide remote functions "
                   "(missing %s: %s); skipping it\n",
                   path.c_str(),
                   execute == nullptr ? RAY_LIBRARY_EXECUTE_SYMBOL : RAY_LIBRARY_HAS_FUNCTION_SYMBOL,
                   execute == nullptr ? (execute_error ? execute_error : "not found")
                                      : (has_function_error ? has_function_error : "not found"));
      continue;
    }
    std::fprintf(stderr, "default_worker: loaded library %s\n", path.c_str());
    Library lib;
    lib.path = path;
    lib.handle = handle;
    lib.execute = reinterpret_cast<ray_execute_fn>(execute);
    lib.has_function = reinterpret_cast<ray_has_function_fn>(has_function);
    out->libs.push_back(lib);
  }
}

/// Fills a result with a malloc'd message.
void FillError(ray_task_result *result, int kind, const std::string &message) {
  result->kind = kind;
  result->data = static_cast<uint8_t *>(std::malloc(message.size() > 0 ? message.size() : 1));
  result->size = 0;
  if (result->data != nullptr) {
    std::memcpy(result->data, message.data(), message.size());
    result->size = message.size();
  }
  result->contained_ids = nullptr;
  result->num_contained = 0;
}

/// Runs a call with the first library that has the function.
void Dispatch(void *ctx, const ray_task_call *call, ray_task_result *result) {
  const Libraries *libraries = static_cast<const Libraries *>(ctx);
  const char *name = call->function_name != nullptr ? call->function_name : "";
  size_t name_len = call->function_name != nullptr ? call->function_name_len : 0;
  for (const auto &lib : libraries->libs) {
    if (lib.has_function(name, name_len) == 1) {
      lib.execute(nullptr, call, result);
      return;
    }
  }
  std::string message = "Function not found: " + std::string(name, name_len) +
                        ". Please use RAY_REMOTE to register it. Libraries loaded: ";
  for (size_t i = 0; i < libraries->libs.size(); i++) {
    if (i > 0) message += ", ";
    const std::string &path = libraries->libs[i].path;
    size_t slash = path.rfind('/');
    message += slash == std::string::npos ? path : path.substr(slash + 1);
  }
  FillError(result, RAY_OBJECT_FUNCTION_NOT_FOUND, message);
}

}  // namespace

int main(int argc, char **argv) {
  if (ray_is_worker_process() != 1) {
    std::fprintf(stderr, "default_worker is started by a goray node, not by hand\n");
    return 2;
  }

  // The driver's own command line follows "--".
  std::vector<char *> driver_argv;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--") == 0) {
      for (int j = i + 1; j < argc; j++) driver_argv.push_back(argv[j]);
      break;
    }
  }

  const char *search_path = std::getenv("GORAY_CODE_SEARCH_PATH");
  static Libraries libraries;
  if (search_path != nullptr && search_path[0] != '\0') {
    LoadLibraries(CollectLibraryPaths(search_path), &libraries);
  }

  if (libraries.libs.empty()) {
    if (!driver_argv.empty()) {
      std::fprintf(stderr,
                   "default_worker: no library on the code search path provides RAY_REMOTE "
                   "functions; running the driver program %s in worker mode\n",
                   driver_argv[0]);
      std::fflush(nullptr);
      driver_argv.push_back(nullptr);
      execv(driver_argv[0], driver_argv.data());
      std::fprintf(stderr, "default_worker: cannot run the driver program %s: %s\n",
                   driver_argv[0], std::strerror(errno));
      return 1;
    }
    std::fprintf(stderr,
                 "default_worker: no library on the code search path (GORAY_CODE_SEARCH_PATH=%s) "
                 "provides RAY_REMOTE functions, and no driver program was given after \"--\"; "
                 "nothing to run\n",
                 search_path != nullptr ? search_path : "");
    return 1;
  }

  int code = ray_worker_run(&Dispatch, &libraries);
  // _exit: the runtime's threads may still be running; skip static destructors and atexit hooks.
  std::fflush(nullptr);
  _exit(code);
}
