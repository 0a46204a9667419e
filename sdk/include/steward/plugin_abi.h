/*
 * steward method plugin ABI.
 *
 * A plugin is a shared object that exports one symbol, `steward_plugin_entry`, returning a
 * descriptor: which methods it serves and four callbacks (create, handle, cancel, destroy).
 * Only plain C data crosses this boundary: no C++ object, exception or allocator. Every pointer
 * says who owns it and for how long.
 *
 * Versioning: the host refuses a plugin whose `abi_major` differs from its own. New fields are
 * only ever appended; `struct_size` tells each side how much of a struct the other one knows.
 *
 * Threading: `create` and `destroy` are called on a host thread, never concurrently for the same
 * instance. `handle` is called on a host worker thread and may block until the method is done;
 * for a sequenced method (ordered = 1) at most one `handle` runs per instance at a time, for a
 * concurrent one several may run at once, so the instance must be thread-safe then. `cancel`
 * may be called from any thread while `handle` runs for that call.
 */
#ifndef STEWARD_PLUGIN_ABI_H
#define STEWARD_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STEWARD_ABI_VERSION_MAJOR 1
#define STEWARD_ABI_VERSION_MINOR 1

/* The name of the one symbol a plugin exports. */
#define STEWARD_PLUGIN_ENTRY_SYMBOL "steward_plugin_entry"

/* Whether a method is a command (do something) or an event (something happened). */
typedef enum steward_method_kind {
  STEWARD_KIND_COMMAND = 0,
  STEWARD_KIND_EVENT = 1
} steward_method_kind;

/* Result of a handler. */
typedef enum steward_status {
  STEWARD_OK = 0,
  STEWARD_ERROR = 1
} steward_status;

/* Log levels for steward_host_api.log. */
typedef enum steward_log_level {
  STEWARD_LOG_DEBUG = 0,
  STEWARD_LOG_INFO = 1,
  STEWARD_LOG_WARNING = 2,
  STEWARD_LOG_ERROR = 3
} steward_log_level;

/* One method a plugin serves. Owned by the plugin; must stay valid while the library is loaded. */
typedef struct steward_method_desc {
  /* Method name as used in messages and subjects, e.g. "REQCliCommand". */
  const char *name;
  /* steward_method_kind. */
  int32_t kind;
  /* 1: the sender waits for an ACK and retries; 0: published once, no ACK. */
  int32_t ack;
  /* 1: messages run one at a time in send order; 0: they run concurrently. */
  int32_t ordered;
  /* 1: this method consumes replies (e.g. writes them to a file) and never produces one. */
  int32_t reply_method;
} steward_method_desc;

/* Opaque handle for one running call of `handle`. Owned by the host; valid until `handle` returns. */
typedef struct steward_call steward_call;

/*
 * One message handed to `handle`. Owned by the host; every pointer is valid until `handle`
 * returns. Strings are NUL-terminated UTF-8; `data` elements may also contain NUL bytes, so their
 * lengths are given.
 */
typedef struct steward_request {
  size_t struct_size;
  /* Message id, unique per sending node. */
  uint64_t id;
  const char *from_node;
  const char *to_node;
  const char *method;
  /* The message's `data` array. */
  const char *const *data;
  const size_t *data_len;
  size_t data_count;
  const char *directory;
  const char *file_name;
  /* The `operation` object as JSON text, or "" when the message has none. */
  const char *operation_json;
  /* Milliseconds since the Unix epoch after which the call must stop (methodTimeout). */
  int64_t deadline_unix_ms;
  /* This node's name and its data folder (subscribersDataFolder), absolute. */
  const char *node_name;
  const char *data_folder;
  /*
   * The file this message's output belongs in, already checked to lie inside the data folder:
   * <data_folder>/<directory>/<from_node>/<file_name>. Its folder may not exist yet.
   */
  const char *output_path;
  /* For a reply: the id and method of the request it answers, and its error ("" if none). */
  uint64_t request_id;
  const char *request_method;
  const char *request_error;
} steward_request;

/*
 * Services the host offers to a plugin. Owned by the host; valid from `create` until `destroy`
 * returns. All functions are thread-safe.
 */
typedef struct steward_host_api {
  size_t struct_size;
  /* Appends `len` bytes to the call's output; the host copies them. Output becomes the reply. */
  void (*output)(steward_call *call, const char *bytes, size_t len);
  /* Sets the call's error text (copied); the host reports it to central's error log. */
  void (*error)(steward_call *call, const char *message);
  /* 1 once the call is cancelled (methodTimeout reached, process stopping); poll it. */
  int (*is_cancelled)(steward_call *call);
  /* Logs a line (copied) through the host's log, tagged with the plugin's name. */
  void (*log)(void *host_context, int32_t level, const char *message);
  /*
   * ABI 1.1. Runs an operation on the node itself — what REQOpCommand does. `operation_json` is
   * the message's operation object, e.g. {"opCmd":"ps"}; the host copies what it needs. The
   * result text is appended to the call's output; on failure the call's error is set too.
   * Returns STEWARD_OK or STEWARD_ERROR. Only valid during `handle`. Check that `struct_size`
   * covers this field before calling it.
   */
  int32_t (*node_operation)(steward_call *call, const char *operation_json);
  /*
   * ABI 1.1. Sends the call's output so far as a reply now and empties it: for methods that
   * report while they run (streamed command output, a followed file). Replies reach the sender in
   * the order they were emitted, and the final one (what is left when `handle` returns, with its
   * error) comes last. Emitting with no output sends nothing. Returns STEWARD_ERROR when the reply
   * could not be queued (the output stays in the call then). Only valid during `handle`.
   */
  int32_t (*emit)(steward_call *call);
} steward_host_api;

/*
 * The descriptor returned by the entry symbol. Owned by the plugin; must stay valid while the
 * library is loaded.
 */
typedef struct steward_plugin {
  uint32_t abi_major;
  uint32_t abi_minor;
  size_t struct_size;
  /* Human-readable plugin name and version, e.g. "cli", "1.0.0". */
  const char *name;
  const char *version;
  const steward_method_desc *methods;
  size_t method_count;

  /*
   * Creates an instance serving `method` (one of `methods`). `host` and `host_context` stay valid
   * until `destroy` returns. On failure returns NULL and may write a NUL-terminated reason into
   * `error_out` (at most `error_len` bytes, host-owned).
   */
  void *(*create)(const steward_host_api *host, void *host_context, const char *method,
                  char *error_out, size_t error_len);

  /*
   * Runs one message. May block; must return by the request's deadline or soon after
   * `is_cancelled` turns 1. Output and errors go through the host API with `call`.
   */
  int32_t (*handle)(void *instance, const steward_request *request, steward_call *call);

  /*
   * Asks a running `handle` for `call` to stop soon (e.g. kill its child processes). Optional
   * (may be NULL); `is_cancelled` is always available too.
   */
  void (*cancel)(void *instance, steward_call *call);

  /* Frees the instance. No `handle` runs for it any more when this is called. */
  void (*destroy)(void *instance);
} steward_plugin;

/* The entry symbol's type. The returned pointer is owned by the plugin. */
typedef const steward_plugin *(*steward_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* STEWARD_PLUGIN_ABI_H */
