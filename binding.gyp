# node-gyp build (run by `npm install`/`npm ci`). Builds the addon and the runner
# from native/sources.json, the source list CMakeLists.txt reads too.
# Node's headers come from --nodedir=/usr (package.json scripts); nothing is downloaded.
{
  "variables": {
    "liburing_version": "<!(bash scripts/liburing.sh version)",
  },
  "target_defaults": {
    "include_dirs": ["native/include", "native/drivers", "native/shm", "native/probe"],
    "defines": ["PERFLAB_LIBURING_VERSION=\"<(liburing_version)\""],
    "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"],
    "cflags_c": ["-std=gnu17"],
    "cflags_cc": ["-std=gnu++17"],
    "libraries": ["<!@(bash scripts/liburing.sh libs)", "-ldl", "-pthread"],
  },
  "targets": [
    {
      "target_name": "perflab",
      "sources": ["<!@(node scripts/sources.mjs addon shm probe)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
    },
    {
      "target_name": "perflab-runner",
      "type": "executable",
      "sources": ["<!@(node scripts/sources.mjs runner drivers probe)"],
    },
  ],
}
