{
  "variables": {
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
        "src-native/inotify.cc",
        "src-native/fd_watch.cc",
        "src-native/fd.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-Wall", "-Wextra", "-Werror"]
      },
      "conditions": [
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
