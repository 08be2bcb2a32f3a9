{
  "targets": [
    {
      "target_name": "solely",
      "sources": [
        "src-native/module.cc",
        "src-native/abstract_socket.cc",
        "src-native/peer_cred.cc",
        "src-native/file_lock.cc",
        "src-native/inotify.cc",
        "src-native/fd_watch.cc",
        "src-native/fd.cc",
        "src-native/pidfile.cc",
        "src-native/statfs.cc",
        "src-native/unix_socket.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-Wall", "-Wextra", "-Werror"]
      }
    }
  ]
}
