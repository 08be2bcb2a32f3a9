{
  "variables": {
    # 1 when building the shipped prebuilds (scripts/prebuildify.sh sets GYP_DEFINES).
    "solely_prebuild%": 0,
    # 1: AddressSanitizer + UndefinedBehaviorSanitizer, for `npm run test:asan` only.
    "sanitize%": 0
  },
  "targets": [
    {
      "target_name": "solely",
      "sources": [
        "src-native/module.cc",
        "src-native/abstract_socket.cc",
        "src-native/peer_cred.cc",
        "src-native/file_lock.cc",
        "src-native/lock_on_thread.cc",
        "src-native/inotify.cc",
        "src-native/fd_watch.cc",
        "src-native/fd_watch_thread.cc",
        "src-native/fd.cc",
        "src-native/pidfile.cc",
        "src-native/statfs.cc",
        "src-native/unix_socket.cc",
        "src-native/socket_info.cc",
        "src-native/socket_diag.cc",
        "src-native/wait_fds.cc",
        "src-native/fd_passing.cc",
        "src-native/byte_io.cc",
        "src-native/exec.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-Wall", "-Wextra", "-Werror"]
      },
      "conditions": [
        # Prebuilds must load on glibc 2.28 (Node 20's floor): see src-native/glibc_floor.cc.
        ["solely_prebuild==1 and OS=='linux' and target_arch in ('x64', 'arm64')", {
          "sources": ["src-native/glibc_floor.cc"],
          "ldflags": [
            "-Wl,--wrap=fstat,--wrap=fstat64,--wrap=fstatat,--wrap=fstatat64",
            "-Wl,--wrap=stat,--wrap=stat64,--wrap=lstat,--wrap=lstat64",
            "-Wl,--wrap=pthread_create,--wrap=pthread_join"
          ]
        }],
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
