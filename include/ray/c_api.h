/*
 * goray C ABI, version 2.
 *
 * This is the only door between C++ (the header-only API in <ray/api.h>) and the Go runtime in
 * libray_api.so. It is plain C so that any compiler, any C++ standard library ABI and any build
 * system can use it.
 *
 * Conventions
 * - Every call that can fail returns a status code (RAY_OK on success). On failure, when `err` is
 *   not NULL, *err receives a malloc'd, NUL-terminated message that the caller releases with
 *   ray_free().
 * - Object ids are RAY_ID_SIZE raw bytes. Arrays of ids are packed back to back.
 * - Buffers passed in are copied (or consumed) before the call returns; the caller keeps ownership.
 * - Buffers passed out (ray_object) stay valid until ray_object_release() is called on them; those
 *   of large values point into the node's shared-memory object store and are read-only.
 * - Buffers a task callback hands back (ray_task_result) are malloc'd by the callback and freed by
 *   the runtime with free().
 */
#ifndef RAY_C_API_H_
#define RAY_C_API_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Version of this ABI; ray_api_version() returns the version the library implements. The C++
 * headers refuse to start (ray::Init throws) when the two differ.
 * Version 2: ray_init takes a ray_config struct (version 1 took a JSON string).
 * Version 4: ray_task_spec.max_retries -1 means no limit (RAY_TASK_RETRIES_DEFAULT is the
 * default), ray_task_spec has retry_exceptions and ray_actor_spec max_task_retries.
 * Version 5: objects of kind RAY_OBJECT_OWNER_DIED.
 * Version 6: placement groups; ray_task_spec and ray_actor_spec name one (placement_group_id,
 * bundle_index) and a runtime environment (runtime_env); users' metrics.
 * Version 7: ray_get_runtime_context, ray_get_all_node_info.
 */
#define RAY_C_API_VERSION 7

/** ray_task_spec.max_retries of a task that keeps the default: the submitting process's
 *  RAY_TASK_MAX_RETRIES, else 3 (Ray's). */
#define RAY_TASK_RETRIES_DEFAULT (-2)

/** Size in bytes of an object id. */
#define RAY_ID_SIZE 28

/** Size in bytes of an actor id. */
#define RAY_ACTOR_ID_SIZE 16

/** Status codes. */
enum ray_status_code {
  RAY_OK = 0,
  RAY_ERR_GENERIC = 1,         /* any other failure: the message says what */
  RAY_ERR_NOT_INITIALIZED = 2, /* a call that needs ray_init() before it */
  RAY_ERR_TIMEOUT = 3,         /* a Get or Wait that ran out of time */
  RAY_ERR_INVALID_ARGUMENT = 4,
  RAY_ERR_SHUTDOWN = 5,        /* the runtime was shut down while the call waited */
  RAY_ERR_UNKNOWN_OBJECT = 6,  /* an object id that no process of the cluster created */
  RAY_ERR_NOT_FOUND = 7,       /* a named actor that does not exist */
  RAY_ERR_OBJECT_STORE_FULL = 8 /* the node's object store has no room, even after spilling */
};

/** What a stored object holds: a value, or the error that stands in for the value. */
enum ray_object_kind {
  RAY_OBJECT_VALUE = 0,              /* msgpack bytes of the value */
  RAY_OBJECT_TASK_ERROR = 1,         /* the task threw; data is the message */
  RAY_OBJECT_FUNCTION_NOT_FOUND = 2, /* no worker library registers the function; data is the message */
  RAY_OBJECT_WORKER_DIED = 3,        /* the worker process died; data is the message */
  RAY_OBJECT_ACTOR_DIED = 4,         /* the actor died or its creation failed; data is the message */
  RAY_OBJECT_LOST = 5,               /* lost and not rebuilt from its lineage; data is the message */
  RAY_OBJECT_OWNER_DIED = 7          /* its owner died, so it cannot be found or rebuilt */
};

/** Kinds of task a worker is asked to execute. */
enum ray_task_type {
  RAY_TASK_NORMAL = 0,         /* a RAY_REMOTE free function */
  RAY_TASK_ACTOR_CREATION = 1, /* a RAY_REMOTE factory: the result carries the new instance */
  RAY_TASK_ACTOR_METHOD = 2,   /* a RAY_REMOTE member function, called on actor_instance */
  RAY_TASK_ACTOR_DESTROY = 3   /* delete actor_instance (function_name names the factory) */
};

/** Actor lifetimes (ray::ActorLifetime). */
enum ray_actor_lifetime {
  RAY_ACTOR_LIFETIME_DEFAULT = 0, /* RayConfig::default_actor_lifetime */
  RAY_ACTOR_LIFETIME_NON_DETACHED = 1,
  RAY_ACTOR_LIFETIME_DETACHED = 2
};

/** Log severities of ray_log(). */
enum ray_log_severity {
  RAY_LOG_DEBUG = -1,
  RAY_LOG_INFO = 0,
  RAY_LOG_WARNING = 1,
  RAY_LOG_ERROR = 2,
  RAY_LOG_FATAL = 3
};

/** An object handed out by the runtime. Release it with ray_object_release(). */
typedef struct ray_object {
  const uint8_t *data;
  size_t size;
  int kind;        /* enum ray_object_kind */
  uint64_t handle; /* owned by the runtime; do not touch */
} ray_object;

/** One argument of a task submission. */
typedef struct ray_task_arg {
  int is_ref;                 /* 1: object_id names an object resolved to its value before the task runs */
  const uint8_t *data;        /* is_ref == 0: msgpack bytes of the value */
  size_t size;
  const uint8_t *object_id;   /* is_ref == 1: RAY_ID_SIZE bytes */
  const uint8_t *contained_ids; /* ids of ObjectRefs serialized inside data, packed */
  size_t num_contained;
} ray_task_arg;

/** A task submission. */
typedef struct ray_task_spec {
  const char *function_name; /* the RAY_REMOTE name of the function */
  size_t function_name_len;
  const char *name; /* optional task name (SetName), may be NULL */
  size_t name_len;
  const ray_task_arg *args;
  size_t num_args;
  const char *const *resource_names; /* NUL-terminated names */
  const double *resource_values;
  size_t num_resources;
  /* Retries after a system failure (its worker or its node died): 0 or more, -1 for no limit, or
     RAY_TASK_RETRIES_DEFAULT. Ignored for actor tasks. */
  int max_retries;
  /* Where it runs (enum ray_scheduling_strategy; goray's, beyond Ray's C++ API): with
     RAY_SCHEDULING_NODE_AFFINITY, the node's id in hex (as `ray status` prints it after node_)
     and whether another node may run it when that one cannot (soft). */
  int scheduling_strategy;
  const char *affinity_node_id;
  size_t affinity_node_id_len;
  int affinity_soft;
  /* 1: an exception the task throws is retried too, within max_retries (Ray's retry_exceptions). */
  int retry_exceptions;
  /* The placement group it runs in (its id, RAY_PLACEMENT_GROUP_ID_LEN hex digits; NULL or
     length 0: none) and the bundle (-1: any of the group's). Ignored for actor tasks. */
  const char *placement_group_id;
  size_t placement_group_id_len;
  int bundle_index;
  /* Its runtime environment (ray::RuntimeEnv's JSON; NULL or length 0: the job's), merged with
     the job's (RayConfig::runtime_env). Ignored for actor tasks. */
  const char *runtime_env;
  size_t runtime_env_len;
} ray_task_spec;

/** How a task or an actor is placed on the cluster's nodes (Ray's scheduling strategies). */
enum ray_scheduling_strategy {
  RAY_SCHEDULING_DEFAULT = 0,       /* Ray's hybrid policy: this node while it is not busy */
  RAY_SCHEDULING_SPREAD = 1,        /* successive ones on successive nodes */
  RAY_SCHEDULING_NODE_AFFINITY = 2, /* on one node (affinity_node_id) */
};

/** One argument as a worker receives it: msgpack bytes (ObjectRef arguments already resolved). */
typedef struct ray_arg_value {
  const uint8_t *data;
  size_t size;
} ray_arg_value;

/** A call the runtime asks user code to execute. */
typedef struct ray_task_call {
  int task_type; /* enum ray_task_type */
  const char *function_name;
  size_t function_name_len;
  const ray_arg_value *args;
  size_t num_args;
  void *actor_instance; /* RAY_TASK_ACTOR_METHOD and RAY_TASK_ACTOR_DESTROY: what creation returned */
  const char *class_name; /* actor calls: the class name given at creation (ray_actor_spec) */
  size_t class_name_len;
} ray_task_call;

/**
 * The result user code hands back. data is malloc'd by the callee and freed by the runtime.
 * kind RAY_OBJECT_VALUE: data holds msgpack bytes; RAY_OBJECT_TASK_ERROR or
 * RAY_OBJECT_FUNCTION_NOT_FOUND: data holds the message. contained_ids (malloc'd, may be NULL)
 * lists the ids of ObjectRefs serialized inside data; the callee adds one reference
 * (ray_add_ref) to each before returning, since the task's own ObjectRefs die with it, and the
 * runtime removes those references once the result is stored.
 */
typedef struct ray_task_result {
  uint8_t *data;
  size_t size;
  int kind;
  uint8_t *contained_ids;
  size_t num_contained;
  void *actor_instance; /* RAY_TASK_ACTOR_CREATION with kind RAY_OBJECT_VALUE: the new instance */
} ray_task_result;

/** An actor creation. */
typedef struct ray_actor_spec {
  const char *function_name; /* the RAY_REMOTE name of the factory */
  size_t function_name_len;
  const char *class_name; /* identifies the actor's class, e.g. typeid(T).name(); GetActor checks it */
  size_t class_name_len;
  const ray_task_arg *args;
  size_t num_args;
  const char *const *resource_names; /* resources held while the actor lives */
  const double *resource_values;
  size_t num_resources;
  const char *name; /* "" or NULL: unnamed */
  size_t name_len;
  const char *ray_namespace; /* NULL: this job's namespace */
  size_t namespace_len;
  int max_restarts;    /* 0: never restarted; -1: without limit */
  int max_concurrency; /* calls that may run at once (>= 1) */
  int lifetime;        /* enum ray_actor_lifetime */
  int scheduling_strategy; /* as in ray_task_spec */
  const char *affinity_node_id;
  size_t affinity_node_id_len;
  int affinity_soft;
  /* How many times a call that was running (or sent) when the actor's process died is sent again
     to its next incarnation: 0 (the default: it fails), or more, or -1 for no limit. */
  int max_task_retries;
  /* The placement group the actor lives in, and its runtime environment, as in ray_task_spec. */
  const char *placement_group_id;
  size_t placement_group_id_len;
  int bundle_index;
  const char *runtime_env;
  size_t runtime_env_len;
} ray_actor_spec;

/** Length of a placement group's id: hex digits (Ray's ids are 18 bytes). */
#define RAY_PLACEMENT_GROUP_ID_LEN 36

/** Placement strategies (ray::PlacementStrategy). */
enum ray_placement_strategy {
  RAY_PLACEMENT_PACK = 0,
  RAY_PLACEMENT_SPREAD = 1,
  RAY_PLACEMENT_STRICT_PACK = 2,
  RAY_PLACEMENT_STRICT_SPREAD = 3
};

/** A placement group to create (ray::PlacementGroupCreationOptions). Bundle i holds
 *  bundle_sizes[i] resources, the next ones of resource_names/resource_values in order. */
typedef struct ray_placement_group_spec {
  const char *name; /* "" or NULL: unnamed */
  size_t name_len;
  int strategy; /* enum ray_placement_strategy */
  size_t num_bundles;
  const size_t *bundle_sizes;
  const char *const *resource_names; /* NUL-terminated */
  const double *resource_values;
} ray_placement_group_spec;

/** An array of NUL-terminated strings. */
typedef struct ray_string_array {
  const char *const *items; /* count strings, none NULL; may be NULL when count == 0 */
  size_t count;
} ray_string_array;

/**
 * The configuration of ray_init (ray::RayConfig and the --ray_* flags). Initialize it with
 * ray_config_init(), then set fields. Strings are NUL-terminated, NULL reads as "" (except for
 * redis_password and runtime_env, where NULL means "not given"), and ray_init copies them before
 * it returns. What ray_init cannot read (a struct_size it does not know, a NULL item in a string
 * array, a value outside an enum) makes it fail with a message, never crash.
 * Growing: fields are only ever added at the end. The library reads the struct_size bytes the
 * caller's headers declared and refuses a struct that sets fields the library does not know.
 */
typedef struct ray_config {
  size_t struct_size;  /* sizeof(ray_config) as the caller compiled it (ray_config_init sets it) */
  const char *address; /* "ip:port" of a cluster; "": env RAY_ADDRESS, else an embedded node */
  int local_mode;      /* 1: every task runs in this process; 0: in worker processes */
  ray_string_array code_search_path; /* where workers find user code: *.so files or directories */
  ray_string_array head_args;        /* `ray start --head` arguments of the embedded node */
  int default_actor_lifetime;        /* enum ray_actor_lifetime (DEFAULT is NON_DETACHED here) */
  const char *ray_namespace;         /* "": a random namespace for this job */
  const char *redis_password;        /* NULL: not given ("" is given, and empty) */
  const char *runtime_env;           /* NULL: none; else ray::RuntimeEnv's JSON object */
  const char *job_id;                /* --ray_job_id */
  int node_manager_port;             /* --ray_node_manager_port; 0: not given */
  const char *session_dir;           /* --ray_session_dir */
  const char *logs_dir;              /* --ray_logs_dir */
  const char *node_ip_address;       /* --ray_node_ip_address */
} ray_config;

/** Sets every field of *config to its default (0 or NULL) and struct_size to sizeof(ray_config). */
static inline void ray_config_init(ray_config *config) {
  memset(config, 0, sizeof(*config));
  config->struct_size = sizeof(*config);
}

/** Executes one call. ctx is the pointer given with the callback. */
typedef void (*ray_execute_fn)(void *ctx, const ray_task_call *call, ray_task_result *result);

/**
 * The symbols a user library (a *.so on the code search path) exports so that default_worker can
 * run its functions. The C++ headers define them (weak) in every library that includes them.
 */
#define RAY_LIBRARY_EXECUTE_SYMBOL "goray_internal_execute"
#define RAY_LIBRARY_HAS_FUNCTION_SYMBOL "goray_internal_has_function"
typedef int (*ray_has_function_fn)(const char *name, size_t name_len);

#ifndef RAY_C_API_NO_FUNCTIONS

/** The ABI version the library implements (RAY_C_API_VERSION when headers and library match). */
int ray_api_version(void);

/**
 * Starts the runtime in this process with the configuration in *config (see ray_config; NULL is
 * an error). exec runs tasks in this process (local mode). A second call is a no-op.
 */
int ray_init(const ray_config *config, ray_execute_fn exec, void *exec_ctx, char **err);

/** 1 when ray_init() succeeded and ray_shutdown() has not been called since. */
int ray_is_initialized(void);

/** Stops the runtime: workers, the embedded node, pending waits (they fail with RAY_ERR_SHUTDOWN). */
void ray_shutdown(void);

/** 1 when this process was started by a node to be a worker. */
int ray_is_worker_process(void);

/**
 * Runs this process as a worker of the node that started it: connects, executes tasks with exec,
 * and returns the process exit code when the node goes away. Only for worker processes.
 */
int ray_worker_run(ray_execute_fn exec, void *exec_ctx);

/** Stores a value (msgpack bytes); writes its new id to out_id. */
int ray_put(const uint8_t *data, size_t size, const uint8_t *contained_ids, size_t num_contained,
            uint8_t *out_id, char **err);

/**
 * Values whose msgpack bytes are at least this long go to the node's shared-memory object store:
 * create them with ray_put_create() and write them in place. 0 when this process has no
 * shared-memory store (local mode, or before ray_init()); then every value goes through ray_put().
 */
size_t ray_put_threshold(void);

/**
 * Reserves size bytes in the node's shared-memory object store for a new object. On RAY_OK,
 * *out_data points at the reserved bytes (writable until ray_put_seal() or ray_put_abort()) and
 * out_id receives the object's new id. RAY_ERR_OBJECT_STORE_FULL: there is no room for it even
 * after spilling other objects to disk (or it is larger than the whole store).
 */
int ray_put_create(size_t size, uint8_t *out_id, uint8_t **out_data, char **err);

/**
 * Completes an object made with ray_put_create(): its bytes are written, contained_ids lists the
 * ObjectRefs serialized inside it. The id then names a stored object, like one from ray_put().
 */
int ray_put_seal(const uint8_t *id, const uint8_t *contained_ids, size_t num_contained, char **err);

/** Abandons an object made with ray_put_create() (for example, when packing it threw). */
void ray_put_abort(const uint8_t *id);

/**
 * Gets num_ids objects, waiting up to timeout_ms (negative: forever). On RAY_OK every out[i] is
 * filled and must be released with ray_object_release(); on failure none needs releasing.
 */
int ray_get(const uint8_t *ids, size_t num_ids, int64_t timeout_ms, ray_object *out, char **err);

/**
 * Releases an object returned by ray_get(). A large value's data points straight into the node's
 * shared memory (read-only; no copy was made): it stays valid, and the store keeps it in place,
 * until this call.
 */
void ray_object_release(ray_object *obj);

/**
 * Waits until num_objects of the ids are ready or timeout_ms passes (negative: forever).
 * out_ready[i] is set to 1 for at most num_objects ready ids, in the order given, else 0 (on an
 * error its contents are undefined). Neither array is kept after the call.
 */
int ray_wait(const uint8_t *ids, size_t num_ids, size_t num_objects, int64_t timeout_ms,
             uint8_t *out_ready, char **err);

/** Submits a task; writes the id of its return object to out_return_id. */
int ray_submit_task(const ray_task_spec *spec, uint8_t *out_return_id, char **err);

/** Creates an actor; writes its id (RAY_ACTOR_ID_SIZE bytes). A taken name is an error. */
int ray_create_actor(const ray_actor_spec *spec, uint8_t *out_actor_id, char **err);

/**
 * Calls a method of an actor (spec->function_name is the member function's RAY_REMOTE name);
 * writes the id of the call's return object. Calls from one process run in submission order.
 */
int ray_submit_actor_task(const uint8_t *actor_id, const ray_task_spec *spec, uint8_t *out_return_id,
                          char **err);

/** Kills an actor; with no_restart == 0 it is restarted if it has restarts left. */
int ray_kill_actor(const uint8_t *actor_id, int no_restart, char **err);

/**
 * Looks up a live named actor. ray_namespace NULL: this job's namespace. RAY_OK: out_actor_id
 * and *out_class_name (malloc'd; free with ray_free) are set; RAY_ERR_NOT_FOUND: no such actor.
 */
int ray_get_actor(const char *name, size_t name_len, const char *ray_namespace, size_t namespace_len,
                  uint8_t *out_actor_id, char **out_class_name, char **err);

/**
 * Called from an actor method: the actor exits once this call returns, and is not restarted.
 * Fails outside an actor.
 */
int ray_exit_actor(char **err);

/** 1 inside an actor instance that was created again after its process died or was killed. */
int ray_was_current_actor_restarted(void);

/**
 * Creates a placement group in this job's namespace; writes its id (RAY_PLACEMENT_GROUP_ID_LEN
 * hex digits, not NUL-terminated) to out_id. It is PENDING until its bundles are reserved
 * (ray_wait_placement_group). A name a live group of the namespace has is an error.
 */
int ray_create_placement_group(const ray_placement_group_spec *spec, char *out_id, char **err);

/** Removes a placement group (its actors and tasks are killed); removing it twice is no error. */
int ray_remove_placement_group(const char *id, size_t id_len, char **err);

/**
 * Waits up to timeout_seconds (negative: no limit) for a placement group to be created; *out_ready
 * is 1 when it is. RAY_ERR_NOT_FOUND: the group was removed, or none has this id.
 */
int ray_wait_placement_group(const char *id, size_t id_len, int64_t timeout_seconds, int *out_ready,
                             char **err);

/**
 * Looks placement groups up: by id (id_len > 0), else by name in this job's namespace (name_len >
 * 0), else all. *out_json (malloc'd, NUL-terminated; free with ray_free) receives a JSON array of
 * {"id", "name", "strategy", "state", "bundles": [{resource: amount}]} objects (strategy and state
 * as ray::PlacementStrategy and ray::PlacementGroupState).
 */
int ray_get_placement_groups(const char *id, size_t id_len, const char *name, size_t name_len,
                             char **out_json, char **err);

/** Kinds of users' metrics (ray/api/metric.h). */
enum ray_metric_kind {
  RAY_METRIC_GAUGE = 0,     /* a value set (Prometheus gauge) */
  RAY_METRIC_COUNTER = 1,   /* grows by what is recorded, never down (Prometheus counter) */
  RAY_METRIC_HISTOGRAM = 2, /* observations in buckets at boundaries (Prometheus histogram) */
  RAY_METRIC_SUM = 3        /* the sum of what is recorded, up or down */
};

/**
 * Defines a metric of this process (exported by its node as "ray_<name>"); writes its handle.
 * Defining a name again with the same kind, tag keys and boundaries gives the same handle.
 * Names are Prometheus names, tag keys label names; a histogram needs increasing boundaries.
 */
int ray_metric_define(int kind, const char *name, size_t name_len, const char *description,
                      size_t description_len, const char *unit, size_t unit_len,
                      const char *const *tag_keys, size_t num_tag_keys, const double *boundaries,
                      size_t num_boundaries, uint64_t *out_handle, char **err);

/**
 * Records a value of a metric: a gauge's new value, what a counter or sum grows by, a histogram's
 * observation; tags (num_tags keys and values, NUL-terminated) name some of its tag keys.
 */
int ray_metric_record(uint64_t handle, double value, const char *const *tag_keys,
                      const char *const *tag_values, size_t num_tags, char **err);

/** This job's namespace (malloc'd; free with ray_free), or NULL before ray_init(). */
char *ray_get_namespace(void);

/**
 * The runtime context of the calling thread, as a JSON object (malloc'd in *out; free with
 * ray_free): "job_id", "node_id" (hex), "actor_id" and "task_id" (hex; "" when the thread runs no
 * actor method / no task), "namespace", "local_mode" and "was_current_actor_restarted" (booleans).
 * Since ABI version 7.
 */
int ray_get_runtime_context(char **out, char **err);

/**
 * The cluster's nodes, alive and dead, as the control store knows them (local mode: the driver's
 * process as the one node), as a JSON array (malloc'd in *out; free with ray_free) of objects with
 * "node_id" (hex), "node_manager_address", "node_hostname", "alive", "is_head", "resources" and
 * "available_resources" (name -> quantity). Since ABI version 7.
 */
int ray_get_all_node_info(char **out, char **err);

/** Counts one more live ObjectRef to id in this process (no-op before ray_init()). */
void ray_add_ref(const uint8_t *id);

/** Counts one less live ObjectRef to id in this process (no-op before ray_init()). */
void ray_remove_ref(const uint8_t *id);

/** The number of live references this process holds to id (for tests and debugging). */
int64_t ray_ref_count(const uint8_t *id);

/** Writes a log line through the runtime's logger (glog). RAY_LOG_FATAL aborts the process. */
void ray_log(int severity, const char *file, int line, const char *msg, size_t msg_len);

/** 1 when a message of this severity would be written. */
int ray_log_enabled(int severity);

/** Frees memory the runtime allocated for the caller (error messages). */
void ray_free(void *ptr);

#endif /* RAY_C_API_NO_FUNCTIONS */

#ifdef __cplusplus
}
#endif

#endif /* RAY_C_API_H_ */
