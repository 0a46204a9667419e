/*
 * steward method plugin ABI, version 2.2.
 *
 * A plugin is a shared object that exports one symbol, `steward_plugin_entry`, returning a
 * descriptor: which methods it serves and four callbacks (create, handle, cancel, destroy).
 * Only plain C data crosses this boundary: no C++ object, exception or allocator. This header is
 * C99 and is compiled as C by steward's own tests.
 *
 * How the ABI may change is in sdk/STYLE.md. In short: every struct carries its size; a minor
 * version only appends (fields at the end of a struct, functions at the end of the host API,
 * flags in reserved bits); nothing is removed or moved within a major. The first three fields of
 * steward_plugin (abi_major, abi_minor, struct_size) never move in any major, so a host can refuse
 * any plugin it does not speak with a clear reason.
 *
 * Ownership: every pointer type is either STEWARD_OWNED_BY_HOST (the plugin reads it, never frees
 * it, and keeps it no longer than the lifetime given) or STEWARD_OWNED_BY_PLUGIN (the host hands
 * it back, never frees it or looks inside).
 *
 * Strings are steward_str: a pointer and a length, not NUL-terminated, may hold NUL bytes.
 *
 * Errors have one channel: a callback returns STEWARD_OK or STEWARD_ERROR, and says why through
 * the host (`error` for a call, `instance_error` for create); no string is ever returned.
 *
 * Threading: `create` and `destroy` are called on a host thread, never concurrently for the same
 * instance. `handle` is called on a host worker thread and may block until the method is done;
 * for a sequenced method at most one `handle` runs per instance at a time, for a concurrent one
 * (STEWARD_METHOD_CONCURRENT) several may run at once, so the instance must be thread-safe then.
 * `cancel` may be called from any thread while `handle` runs for that call. Every host API
 * function is thread-safe.
 */
#ifndef STEWARD_PLUGIN_ABI_H
#define STEWARD_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STEWARD_ABI_VERSION_MAJOR 2
#define STEWARD_ABI_VERSION_MINOR 2

/* The name of the one symbol a plugin exports; its type is steward_plugin_entry_fn. */
#define STEWARD_PLUGIN_ENTRY_SYMBOL "steward_plugin_entry"

/* Who owns what a pointer points to (documentation only). */
#define STEWARD_OWNED_BY_HOST
#define STEWARD_OWNED_BY_PLUGIN

/* Bytes with a length. Never NUL-terminated by contract; `ptr` may be NULL when `len` is 0. */
typedef struct steward_str {
  const char *ptr;
  size_t len;
} steward_str;

/* What every callback and host function that can fail returns. */
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

/* Typed handles. Their structs are never defined for the other side: only pointers cross. */
/* One running call of `handle`. Valid until `handle` returns. */
typedef struct steward_host_call steward_host_call STEWARD_OWNED_BY_HOST;
/* The host's side of one plugin instance. Valid from `create` until `destroy` returns. */
typedef struct steward_host_instance steward_host_instance STEWARD_OWNED_BY_HOST;
/* The plugin's instance, made by `create`, freed by `destroy`. */
typedef struct steward_plugin_instance steward_plugin_instance STEWARD_OWNED_BY_PLUGIN;

/*
 * Method flags. The default (0) is a command, ACKed by the receiver and retried, run in sequence
 * order. A host refuses a method with a flag it does not know.
 */
#define STEWARD_METHOD_EVENT (1u << 0)      /* an event (something happened), not a command */
#define STEWARD_METHOD_NO_ACK (1u << 1)     /* published once; the sender waits for no ACK */
#define STEWARD_METHOD_CONCURRENT (1u << 2) /* messages run concurrently, not one at a time */
#define STEWARD_METHOD_REPLY (1u << 3)      /* consumes replies (e.g. writes them); never replies */
/* Its data is a command line (program and arguments): the ACL's command patterns apply to it. */
#define STEWARD_METHOD_COMMAND_DATA (1u << 4)
#define STEWARD_METHOD_KNOWN_FLAGS_2_0 (0x1fu)

/* One method a plugin serves. Owned by the plugin; valid while the library is loaded. */
typedef struct steward_method_desc {
  size_t struct_size; /* sizeof(steward_method_desc) as the plugin was built */
  /* Method name as used in messages and subjects, e.g. "REQCliCommand". */
  steward_str name;
  uint32_t flags; /* STEWARD_METHOD_* */
  uint32_t reserved32;
  uint64_t reserved[2]; /* zero */
} steward_method_desc;

/* One message handed to `handle`. Owned by the host; valid until `handle` returns. */
typedef struct steward_request {
  size_t struct_size;
  /* Message id, unique per sending node. */
  uint64_t id;
  steward_str from_node;
  steward_str to_node;
  steward_str method;
  /* The message's `data` array. */
  const steward_str *data;
  size_t data_count;
  steward_str directory;
  steward_str file_name;
  /* The `operation` object as JSON text; empty when the message has none. */
  steward_str operation_json;
  /* Milliseconds since the Unix epoch after which the call must stop (methodTimeout). */
  int64_t deadline_unix_ms;
  /* This node's name and its data folder (subscribersDataFolder). */
  steward_str node_name;
  steward_str data_folder;
  /*
   * The file this message's output belongs in, already checked to lie inside the data folder:
   * <data_folder>/<directory>/<from_node>/<file_name>. Its folder may not exist yet; write it
   * without following links (steward::sdk::writeFileBeneath).
   */
  steward_str output_path;
  /* For a reply: the id and method of the request it answers, and its error (empty if none). */
  uint64_t request_id;
  steward_str request_method;
  steward_str request_error;
  /*
   * ABI 2.2 (read it only when struct_size covers it). For a reply: the request's `replyOpts`, a
   * flat JSON object of options for the reply method (steward checked its shape, and the options of
   * its own reply methods); empty when the request gave none.
   */
  steward_str reply_options_json;
} steward_request;

/*
 * Services the host offers to a plugin. Owned by the host; valid from `create` until `destroy`
 * returns. Functions are appended in later minors: check `struct_size` covers a function before
 * calling one newer than the minor the plugin requires (min_host_minor).
 */
typedef struct steward_host_api {
  size_t struct_size;
  /* Appends bytes to the call's output (copied). The output becomes the reply. */
  void (*output)(steward_host_call *call, steward_str bytes);
  /* Says why the call failed (copied); several are joined. It goes to central's error log. */
  void (*error)(steward_host_call *call, steward_str message);
  /* 1 once the call is cancelled (methodTimeout reached, process stopping); poll it. */
  int32_t (*is_cancelled)(steward_host_call *call);
  /* Logs a line (copied) through the host's log, tagged with the plugin's name. */
  void (*log)(steward_host_instance *instance, int32_t level, steward_str message);
  /*
   * Sends the call's output so far as a reply now and empties it: for methods that report while
   * they run. Replies reach the sender in the order they were emitted; the final one (what is left
   * when `handle` returns, with its error) comes last. Emitting no output sends nothing. Returns
   * STEWARD_ERROR when the reply could not be queued (the output stays then). Only during `handle`.
   */
  int32_t (*emit)(steward_host_call *call);
  /* Says why `create` failed (copied). Only valid during `create`. */
  void (*instance_error)(steward_host_instance *instance, steward_str message);
  /*
   * ABI 2.1. Sets a named part of the call's final reply (copied), besides its output: the
   * reply's `result` object. REQCliCommand sets "stderr" and "exitStatus". A name is 1 to 32
   * letters, digits or '_'; at most STEWARD_MAX_RESULT_FIELDS names; setting one again replaces
   * it. Returns STEWARD_ERROR for a bad name or one too many. Only during `handle`.
   */
  int32_t (*set_result)(steward_host_call *call, steward_str name, steward_str value);
} steward_host_api;

#define STEWARD_MAX_RESULT_FIELDS 16

/*
 * The descriptor returned by the entry symbol. Owned by the plugin; valid while the library is
 * loaded.
 */
typedef struct steward_plugin {
  /* These three never move, in any major. */
  uint32_t abi_major;  /* STEWARD_ABI_VERSION_MAJOR the plugin was built with */
  uint32_t abi_minor;  /* STEWARD_ABI_VERSION_MINOR the plugin was built with */
  size_t struct_size;  /* sizeof(steward_plugin) as the plugin was built */

  /* The lowest host minor (of this major) the plugin needs: it may call what that minor has. */
  uint32_t min_host_minor;
  uint32_t flags; /* none defined yet: 0 */
  /* Human-readable plugin name and version, e.g. "cli", "1.0.0". */
  steward_str name;
  steward_str version;
  /* The methods served: `method_count` pointers, each to a descriptor with its own size. */
  const steward_method_desc *const *methods;
  size_t method_count;

  /*
   * Creates an instance serving `method` (one of `methods`), configured by `config_json`: the
   * plugin's [plugins.<name>] table of config.toml as a JSON object ("{}" when there is none).
   * `host` and `host_instance` stay valid until `destroy` returns. On success stores the instance
   * in `*instance_out` and returns STEWARD_OK; on failure returns STEWARD_ERROR after saying why
   * through host->instance_error.
   */
  int32_t (*create)(const steward_host_api *host, steward_host_instance *host_instance,
                    steward_str method, steward_str config_json,
                    steward_plugin_instance **instance_out);

  /*
   * Runs one message. May block; must return by the request's deadline or soon after
   * `is_cancelled` turns 1. Output and errors go through the host API with `call`.
   */
  int32_t (*handle)(steward_plugin_instance *instance, const steward_request *request,
                    steward_host_call *call);

  /* Asks a running `handle` for `call` to stop soon (e.g. kill its child processes). May be NULL. */
  void (*cancel)(steward_plugin_instance *instance, steward_host_call *call);

  /* Frees the instance. No `handle` runs for it any more when this is called. */
  void (*destroy)(steward_plugin_instance *instance);

  void *reserved[4]; /* NULL */
} steward_plugin;

/* The entry symbol's type. The returned pointer is owned by the plugin. */
typedef const steward_plugin *(*steward_plugin_entry_fn)(void);

/* The smallest descriptor a 2.x host takes: everything up to and including `destroy`. */
#define STEWARD_PLUGIN_MIN_SIZE_2_0 (offsetof(steward_plugin, destroy) + sizeof(void (*)(void)))
#define STEWARD_METHOD_DESC_MIN_SIZE_2_0 (offsetof(steward_method_desc, flags) + sizeof(uint32_t))

#ifdef __cplusplus
}
#endif

#endif /* STEWARD_PLUGIN_ABI_H */
