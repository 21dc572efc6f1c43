// focusrig virtual Pico: a C module (`_vphook`) in the project's own MicroPython build.
//
// 1. CPU model. py/vm.c calls focusrig_vm_tick() before every bytecode (the build turns
//    vm.c's empty TRACE(ip) into that call). Each bytecode of firmware code adds its cost
//    in RP2040 CPU cycles (a 256-entry table by opcode, set by the board) to a counter;
//    code of the modules registered with board_module() (the board model itself: on a
//    Pico those parts are C or silicon) is not charged. When the counter reaches the
//    alarm the board set, its callback runs right there, between two bytecodes: that is
//    where the board advances virtual time and dispatches due hard IRQs, as an RP2040
//    interrupt lands between any two instructions of the main program.
// 2. USB CDC model. While a stdio object is installed, sys.stdin/stdout/stderr (and
//    print()) go through its read(n) / write(buf) / poll(flags) methods instead of fds
//    0..2: the board models rp2's USB CDC there (board/_vp_usbcdc.py), blocking in
//    virtual time as mp_hal_stdin_rx_chr does on a Pico.
// 3. Raw fd access for that model (raw_read, raw_write, raw_poll) and the keyboard
//    interrupt (kbd_interrupt) as rp2's CDC receive callback raises it.

#include <unistd.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <errno.h>
#include <string.h>

#include "py/runtime.h"
#include "py/gc.h"
#include "py/stream.h"
#include "py/mphal.h"
#include "py/objmodule.h"
#include "py/objtype.h"
#include "py/bc.h"
#include "py/bc0.h"
#include "py/objfun.h"
#include "py/objarray.h"
#include "py/objlist.h"
#include "py/objtuple.h"
#include "py/objstr.h"
#include "vphook.h"

// ---- CPU model --------------------------------------------------------------------------
static uint32_t cycles;                 // charged since the last take()
static uint32_t alarm_at = 0xFFFFFFFFu; // run the callback when cycles reaches this
static uint16_t weight[256];            // cycles per opcode
static bool weights_set;
static bool in_callback;
// preemptible(True): the handler running inside the callback is a PendSV-priority one
// (a soft timer's hard callback: ports/rp2/mphalport.c:250-254, pendsv.c:50 runs it at
// the lowest priority), so a due IO/GPIO interrupt preempts it between two of its
// bytecodes: the alarm may run nested. Cleared while the nested callback runs.
static bool nest_ok;
#define MAX_BOARD 24
static mp_obj_dict_t *board_globals[MAX_BOARD];
static size_t n_board;
static mp_obj_dict_t *last_fw;          // cache: the last globals found to be firmware's
static bool fw_running;                 // the last bytecode was the firmware's
static bool qstrs_mpy;                  // loading a .mpy file's qstrs (until the next bytecode)
// a profile: cycles charged per firmware module (its globals), for finding hot spots
#define MAX_PROF 48
static mp_obj_dict_t *prof_g[MAX_PROF];    // compared only: never dereferenced later
static qstr prof_name[MAX_PROF];           // its __name__, taken while it is alive
static uint32_t prof_c[MAX_PROF];
static uint32_t prof_a[MAX_PROF];          // bytes the module allocated
static uint32_t op_alloc[256];             // bytes allocated during each opcode (firmware)
static unsigned char last_op;
static size_t n_prof, prof_i;
// heap costs (set_heap_costs): cycles per allocation and per 16-byte block of it, per
// collection and per KB of the firmware's live heap it marks; board_bytes of the live
// heap are the board model's own (not on a Pico) and are not charged
static uint32_t alloc_fix, alloc_block, gc_fix, gc_per_kb;
static size_t gc_board_bytes;
static uint32_t gc_count, gc_last_cycles;
// what the opcode alone does not tell (set_costs; _vp_cpu.py has the figures and where
// they come from): the object an attribute is looked up on, the operands of a binary
// op, a Python function's frame, and the C body of a built-in the board models in Python
enum { K_ATTR_HIT, K_ATTR_CLASS, K_METHOD_PY, K_ATTR_MOD, K_ATTR_NATIVE, K_STORE_ATTR,
       K_BINOP_INT, K_BINOP_FLOAT, K_BINOP_OBJ, K_ENTER, K_ENTER_ARG, K_BODY,
       K_BUILTIN_NAME, K_NATIVE_BODY, K_STR_FORMAT, K_RAISE, K_BINOP_MUL,
       K_SUBSCR_LIST, K_SUBSCR_BYTES, K_SUBSCR_ARRAY, K_SUBSCR_DICT,
       K_STORE_LIST, K_STORE_BYTES, K_STORE_ARRAY, K_STORE_DICT, K_FREE, K_QSTR_FIND, K_QSTR_ENTRY, K_MAP_HASHED, K_MAP_PROBE,
       K_QSTR_FROZEN, K_QSTR_CONST, K_QSTR_STATIC, K_QSTR_BYTE, N_COSTS };
static uint32_t cost[N_COSTS];
static bool costs_set;
static qstr board_name[MAX_BOARD];      // the board modules' __name__ (their classes)
#define MAX_TYPES 64                    // cache: is this class one of the board's?
static const mp_obj_type_t *type_seen[MAX_TYPES];
static bool type_board[MAX_TYPES];
static size_t n_types;
#define MAX_BODIES 64                   // c_cost(): a built-in's C body, by function
static const void *body_fun[MAX_BODIES];
static uint32_t body_cyc[MAX_BODIES];
static uint32_t body_byte[MAX_BODIES];  // and per byte of its subject (str, bytes, bytearray)
static uint32_t body_item[MAX_BODIES];  // or per item of it (list, tuple, dict)
static size_t n_bodies;

MP_REGISTER_ROOT_POINTER(mp_obj_t focusrig_alarm_cb);
MP_REGISTER_ROOT_POINTER(mp_obj_t focusrig_stdio);

static void call_alarm_cb(mp_obj_t cb) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_call_function_0(cb);
        nlr_pop();
    } else {
        // raised by the board (end of run, Ctrl-C): deliver it to the firmware the way
        // the VM delivers a pending exception, at the next check
        mp_sched_exception(MP_OBJ_FROM_PTR(nlr.ret_val));
    }
}

static void run_alarm(void) {
    mp_obj_t cb = MP_STATE_VM(focusrig_alarm_cb);
    alarm_at = 0xFFFFFFFFu;                // the callback sets the next one
    if (cb == MP_OBJ_NULL || cb == mp_const_none) {
        return;
    }
    bool was_cb = in_callback;          // a nested alarm (inside a preemptible handler)
    bool was_nest = nest_ok;
    bool was_fw = fw_running;           // the board's callback is no built-in body
    fw_running = false;
    in_callback = true;
    nest_ok = false;
    #if MICROPY_ENABLE_SCHEDULER
    mp_sched_lock();    // a scheduled (soft) callback never runs inside the board's
    #endif              // alarm, which stands for an interrupt: only in thread mode
    call_alarm_cb(cb);
    #if MICROPY_ENABLE_SCHEDULER
    mp_sched_unlock();
    #endif
    in_callback = was_cb;
    nest_ok = was_nest;
    fw_running = was_fw;
}

// C work charged in one lump (a collection, a gc_info() heap scan: charge()) passes at
// the next bytecode, in slices that end at the board's alarms: events and hard IRQs due
// inside it run at their own time, as on a Pico, where interrupts preempt that C work
// (py/gc.c runs with IRQs enabled). Charged in one piece, a 16 ms collection applied
// every edge inside it late, all at its end.
static uint32_t pending;
static bool board_sched_lock;           // vm_tick locked the scheduler for board code
static bool pending_held;               // an IRQ handler runs: the lump waits (hold())

static void pass_gc(void) {
    while (pending) {
        uint32_t step = 0;
        if (alarm_at > cycles) {
            step = alarm_at - cycles;
            if (step > pending) {
                step = pending;
            }
        }
        cycles += step;
        pending -= step;
        if (cycles >= alarm_at) {
            run_alarm();
        }
    }
}

// C work inside a bytecode (an allocation, a free, a qstr search) passes like a lump:
// interrupts due inside it are taken at their own time, not after it (a 118 us qstr
// search once held a press's IRQ to its end). Inside the board's alarm callback (a hard
// IRQ handler) it counts at once: that handler is not interrupted by what the lump
// would let through.
static void charge_c(uint32_t c) {
    if (in_callback) {
        cycles += c;
    } else {
        pending += c;
    }
}


// the qstr argument of the bytecode at ip (py/vm.c DECODE_QSTR)
static qstr decode_qstr(const byte *ip, const mp_code_state_t *cs) {
    const byte *p = ip + 1;
    mp_uint_t u = 0;
    do {
        u = (u << 7) | (*p & 0x7f);
    } while (*p++ & 0x80);
    #if MICROPY_EMIT_BYTECODE_USES_QSTR_TABLE
    return cs->fun_bc->context->constants.qstr_table[u];
    #else
    (void)cs;
    return u;
    #endif
}

// py/map.c (patched): mp_map_lookup's hash path (a miss of the lookup cache: the key's
// hash, a division) and each further slot a probe passes (another division), counted as
// the firmware's bytecodes run and charged at the next bytecode (map_cost)
uint32_t focusrig_map_hashed, focusrig_map_probes;
static uint32_t map_hashed_total, map_probes_total;     // the firmware's (map_counts())
static uint32_t map_site_probes[MAX_PROF * 256];        // by (module, opcode): map_profile()
static uint32_t map_site_hashed[MAX_PROF * 256];

// a lookup of the hook's own, seen by nothing: not counted, and rp2's lookup cache (which
// a lookup on a Pico would have found as the firmware left it) is left as it was
static mp_map_elem_t *quiet_lookup(mp_map_t *map, mp_obj_t key) {
    uint32_t h = focusrig_map_hashed, p = focusrig_map_probes;
    #if MICROPY_OPT_MAP_LOOKUP_CACHE
    uint8_t cache[MICROPY_OPT_MAP_LOOKUP_CACHE_SIZE];
    memcpy(cache, MP_STATE_VM(map_lookup_cache), sizeof(cache));
    #endif
    mp_map_elem_t *e = mp_map_lookup(map, key, MP_MAP_LOOKUP);
    #if MICROPY_OPT_MAP_LOOKUP_CACHE
    memcpy(MP_STATE_VM(map_lookup_cache), cache, sizeof(cache));
    #endif
    focusrig_map_hashed = h;
    focusrig_map_probes = p;
    return e;
}

// a class of the board model (its __module__ is a board module's name): on a Pico it is a
// native type of the port (machine.Pin, rp2.StateMachine), looked up in a ROM table
static bool type_is_board(const mp_obj_type_t *t) {
    for (size_t i = 0; i < n_types; i++) {
        if (type_seen[i] == t) {
            return type_board[i];
        }
    }
    bool board = false;
    if (MP_OBJ_TYPE_HAS_SLOT(t, locals_dict)) {
        mp_map_elem_t *e = quiet_lookup(&MP_OBJ_TYPE_GET_SLOT(t, locals_dict)->map,
            MP_OBJ_NEW_QSTR(MP_QSTR___module__));
        if (e && mp_obj_is_qstr(e->value)) {
            for (size_t i = 0; i < n_board; i++) {
                if (board_name[i] == MP_OBJ_QSTR_VALUE(e->value)) {
                    board = true;
                }
            }
        }
    }
    if (n_types < MAX_TYPES) {
        type_seen[n_types] = t;
        type_board[n_types++] = board;
    }
    return board;
}

// LOAD_ATTR / LOAD_METHOD / STORE_ATTR on obj: an instance's own member is one map probe;
// a miss goes on to its class chain (a method, a class constant), which costs several
static bool map_skip_next;     // the bytecode looks in the board model's maps: not counted

static bool module_is_board(mp_obj_t m) {
    mp_obj_dict_t *g = mp_obj_module_get_globals(m);
    for (size_t i = 0; i < n_board; i++) {
        if (board_globals[i] == g) {
            return true;
        }
    }
    return false;
}

static uint32_t attr_cost(unsigned char op, const byte *ip, mp_obj_t obj, const mp_code_state_t *cs) {
    if (!mp_obj_is_obj(obj)) {
        return cost[K_ATTR_NATIVE];
    }
    const mp_obj_type_t *t = mp_obj_get_type(obj);
    if (t == &mp_type_module) {
        // a module of the board model (machine, rp2, time) is a ROM table on a Pico
        map_skip_next = module_is_board(obj);
        return cost[K_ATTR_MOD];
    }
    if (t == &mp_type_type) {
        if (type_is_board(MP_OBJ_TO_PTR(obj))) {
            map_skip_next = true;
            return cost[K_ATTR_NATIVE];
        }
        return cost[K_ATTR_CLASS];
    }
    if (!mp_obj_is_instance_type(t) || type_is_board(t)) {
        map_skip_next = type_is_board(t);   // a Pin's (Python) maps: a native type's ROM table
        return op == MP_BC_STORE_ATTR ? cost[K_STORE_ATTR] : cost[K_ATTR_NATIVE];
    }
    if (op == MP_BC_STORE_ATTR) {
        return cost[K_STORE_ATTR];
    }
    qstr q = decode_qstr(ip, cs);
    mp_obj_instance_t *o = MP_OBJ_TO_PTR(obj);
    if (quiet_lookup(&o->members, MP_OBJ_NEW_QSTR(q))) {
        return cost[K_ATTR_HIT];
    }
    return op == MP_BC_LOAD_METHOD ? cost[K_METHOD_PY] : cost[K_ATTR_CLASS];
}

// LOAD_GLOBAL / LOAD_NAME: a module global is found at once (rp2's map lookup cache); a
// built-in is looked for in the module first, and a miss hashes its qstr (py/runtime.c
// mp_load_global, py/map.c, py/qstr.c qstr_hash walking the qstr pools)
static uint32_t name_cost(uint32_t w, const byte *ip, const mp_code_state_t *cs) {
    mp_obj_dict_t *g = mp_globals_get();
    if (g == NULL || quiet_lookup(&g->map, MP_OBJ_NEW_QSTR(decode_qstr(ip, cs)))) {
        return w;
    }
    return cost[K_BUILTIN_NAME];
}

// what a built-in's subject (its first argument, or self) adds: per byte or per item
static uint32_t subject_cost(mp_obj_t o, uint32_t per_byte, uint32_t per_item) {
    if (o == MP_OBJ_NULL) {
        return 0;
    }
    if (mp_obj_is_str_or_bytes(o)) {
        size_t n;
        mp_obj_str_get_data(o, &n);
        return per_byte * (uint32_t)n;
    }
    if (!mp_obj_is_obj(o)) {
        return 0;
    }
    const mp_obj_type_t *t = mp_obj_get_type(o);
    if (t == &mp_type_bytearray) {
        return per_byte * (uint32_t)((mp_obj_array_t *)MP_OBJ_TO_PTR(o))->len;
    }
    if (t == &mp_type_list) {
        return per_item * (uint32_t)((mp_obj_list_t *)MP_OBJ_TO_PTR(o))->len;
    }
    if (t == &mp_type_tuple) {
        return per_item * (uint32_t)((mp_obj_tuple_t *)MP_OBJ_TO_PTR(o))->len;
    }
    if (t == &mp_type_dict) {
        return per_item * (uint32_t)((mp_obj_dict_t *)MP_OBJ_TO_PTR(o))->map.used;
    }
    return 0;
}

typedef struct {                        // py/objboundmeth.c keeps its struct to itself
    mp_obj_base_t base;
    mp_obj_t meth;
    mp_obj_t self;
} bound_meth_t;

// CALL_FUNCTION / CALL_METHOD of a built-in written in C (a function of the port, a method
// of a native type, a native type's constructor): its body, by what c_cost() registered,
// else NATIVE_BODY. A Python function's frame is charged in focusrig_enter_fun, and so is
// a built-in the board models in Python.
static uint32_t call_cost(unsigned char op, const byte *ip, mp_obj_t *sp) {
    const byte *p = ip + 1;
    mp_uint_t u = 0;
    do {
        u = (u << 7) | (*p & 0x7f);
    } while (*p++ & 0x80);
    size_t n = (u & 0xff) + ((u >> 7) & 0x1fe);
    mp_obj_t fun, subject;
    if (op == MP_BC_CALL_METHOD) {
        mp_obj_t *base = sp - n - 1;
        fun = base[0];
        subject = base[1] != MP_OBJ_NULL ? base[1] : ((u & 0xff) ? base[2] : MP_OBJ_NULL);
    } else {
        mp_obj_t *base = sp - n;
        fun = base[0];
        subject = (u & 0xff) ? base[1] : MP_OBJ_NULL;
    }
    if (!mp_obj_is_obj(fun)) {
        return 0;
    }
    const mp_obj_type_t *t = mp_obj_get_type(fun);
    if (t == &mp_type_bound_meth) {
        bound_meth_t *b = MP_OBJ_TO_PTR(fun);
        fun = b->meth;
        subject = b->self;
        if (!mp_obj_is_obj(fun)) {
            return 0;
        }
        t = mp_obj_get_type(fun);
    }
    if (!(t == &mp_type_fun_builtin_0 || t == &mp_type_fun_builtin_1 || t == &mp_type_fun_builtin_2
          || t == &mp_type_fun_builtin_3 || t == &mp_type_fun_builtin_var
          || (t == &mp_type_type && !mp_obj_is_instance_type((const mp_obj_type_t *)MP_OBJ_TO_PTR(fun))))) {
        return 0;
    }
    const void *f = MP_OBJ_TO_PTR(fun);
    for (size_t k = 0; k < n_bodies; k++) {
        if (body_fun[k] == f) {
            return body_cyc[k] + subject_cost(subject, body_byte[k], body_item[k]);
        }
    }
    return cost[K_NATIVE_BODY];
}

// x[i] (LOAD_SUBSCR) and x[i] = v (STORE_SUBSCR), by the container
static uint32_t subscr_cost(uint32_t w, bool store, mp_obj_t obj) {
    if (!mp_obj_is_obj(obj)) {
        return w;
    }
    const mp_obj_type_t *t = mp_obj_get_type(obj);
    if (t == &mp_type_list || t == &mp_type_tuple) {
        return cost[store ? K_STORE_LIST : K_SUBSCR_LIST];
    }
    if (t == &mp_type_bytearray || t == &mp_type_bytes) {
        return cost[store ? K_STORE_BYTES : K_SUBSCR_BYTES];
    }
    #if MICROPY_PY_ARRAY
    if (t == &mp_type_array) {                  // array('i'): an int made or unpacked
        return cost[store ? K_STORE_ARRAY : K_SUBSCR_ARRAY];
    }
    #endif
    if (t == &mp_type_dict) {
        return cost[store ? K_STORE_DICT : K_SUBSCR_DICT];
    }
    return w;
}

static uint32_t binop_cost(mp_binary_op_t op, mp_obj_t lhs, mp_obj_t rhs) {
    if (mp_obj_is_small_int(lhs) && mp_obj_is_small_int(rhs)) {
        switch (op) {
            case MP_BINARY_OP_MULTIPLY: case MP_BINARY_OP_INPLACE_MULTIPLY:
            case MP_BINARY_OP_FLOOR_DIVIDE: case MP_BINARY_OP_INPLACE_FLOOR_DIVIDE:
            case MP_BINARY_OP_MODULO: case MP_BINARY_OP_INPLACE_MODULO:
                return cost[K_BINOP_MUL];       // an overflow check / the divider
            default:
                return cost[K_BINOP_INT];
        }
    }
    if (mp_obj_is_float(lhs) || mp_obj_is_float(rhs)) {
        return cost[K_BINOP_FLOAT];     // soft float (the allocation of its result apart)
    }
    if (mp_obj_is_str(lhs) && (op == MP_BINARY_OP_MODULO || op == MP_BINARY_OP_INPLACE_MODULO)) {
        return cost[K_STR_FORMAT];      // '%' formatting
    }
    return cost[K_BINOP_OBJ];
}

static size_t n_import_qstrs;           // import_qstrs() (below)
static const mp_obj_fun_bc_t *last_fun; // the firmware's last bytecode's function, and its
static qstr last_fun_name;              // name (net_functions)
static void import_tick(const byte *ip, const mp_code_state_t *cs);

void focusrig_vm_tick(const unsigned char *ip, void **sp_in, const void *code_state) {
    unsigned char opcode = *ip;
    qstrs_mpy = false;
    // the map lookups the last bytecode made (py/map.c): the firmware's if it was
    uint32_t map_w = 0;
    bool map_skip = map_skip_next;
    map_skip_next = false;
    if (focusrig_map_hashed | focusrig_map_probes) {
        if (fw_running && costs_set && !map_skip) {
            map_w = focusrig_map_hashed * cost[K_MAP_HASHED] + focusrig_map_probes * cost[K_MAP_PROBE];
            map_hashed_total += focusrig_map_hashed;
            map_probes_total += focusrig_map_probes;
            if (prof_i < MAX_PROF) {        // (still the last bytecode's module and opcode)
                map_site_hashed[prof_i << 8 | last_op] += focusrig_map_hashed;
                map_site_probes[prof_i << 8 | last_op] += focusrig_map_probes;
            }
        }
        focusrig_map_hashed = 0;
        focusrig_map_probes = 0;
    }
    if (pending && !in_callback && !pending_held) {
        pass_gc();
    }
    mp_obj_dict_t *g = mp_globals_get();
    if (g != last_fw) {
        for (size_t i = 0; i < n_board; i++) {
            if (board_globals[i] == g) {
                fw_running = false;
                #if MICROPY_ENABLE_SCHEDULER
                if (!board_sched_lock) {
                    // no scheduled (soft) callback inside the board model's own Python:
                    // on a Pico that code is hardware (or an interrupt)
                    mp_sched_lock();
                    board_sched_lock = true;
                }
                #endif
                return;
            }
        }
        last_fw = g;
        prof_i = MAX_PROF;
        for (size_t i = 0; i < n_prof; i++) {
            if (prof_g[i] == g) {
                prof_i = i;
                break;
            }
        }
        if (prof_i == MAX_PROF && n_prof < MAX_PROF) {
            prof_i = n_prof++;
            prof_g[prof_i] = g;
            prof_c[prof_i] = 0;
            prof_a[prof_i] = 0;
            mp_map_elem_t *e = quiet_lookup(&g->map, MP_OBJ_NEW_QSTR(MP_QSTR___name__));
            prof_name[prof_i] = (e && mp_obj_is_qstr(e->value)) ? MP_OBJ_QSTR_VALUE(e->value) : MP_QSTR_;
        }
    }
    fw_running = true;
    if (code_state != NULL && ((const mp_code_state_t *)code_state)->fun_bc != last_fun) {
        last_fun = ((const mp_code_state_t *)code_state)->fun_bc;
        last_fun_name = mp_obj_fun_bc_get_name(last_fun);
    }
    #if MICROPY_ENABLE_SCHEDULER
    if (board_sched_lock) {
        board_sched_lock = false;
        mp_sched_unlock();
    }
    #endif
    last_op = opcode;
    uint32_t w = weights_set ? weight[opcode] : 1;
    uint32_t body = 0;                  // a C built-in's body: passed like other C work
    if (costs_set) {
        mp_obj_t *sp = (mp_obj_t *)sp_in;
        if (opcode >= MP_BC_BINARY_OP_MULTI && opcode < MP_BC_BINARY_OP_MULTI + MP_BC_BINARY_OP_MULTI_NUM) {
            w = binop_cost((mp_binary_op_t)(opcode - MP_BC_BINARY_OP_MULTI), sp[-1], sp[0]);
        } else if (opcode == MP_BC_LOAD_SUBSCR || opcode == MP_BC_STORE_SUBSCR) {
            w = subscr_cost(w, opcode == MP_BC_STORE_SUBSCR, sp[-1]);
        } else if (opcode == MP_BC_LOAD_ATTR || opcode == MP_BC_LOAD_METHOD || opcode == MP_BC_STORE_ATTR) {
            w = attr_cost(opcode, ip, sp[0], (const mp_code_state_t *)code_state);
        } else if (opcode == MP_BC_LOAD_GLOBAL || opcode == MP_BC_LOAD_NAME) {
            w = name_cost(w, ip, (const mp_code_state_t *)code_state);
        } else if (opcode == MP_BC_CALL_FUNCTION || opcode == MP_BC_CALL_METHOD) {
            body = call_cost(opcode, ip, sp);
        } else if (opcode == MP_BC_RAISE_OBJ || opcode == MP_BC_RAISE_LAST || opcode == MP_BC_RAISE_FROM) {
            w = cost[K_RAISE];
        } else if (opcode == MP_BC_IMPORT_NAME && n_import_qstrs) {
            import_tick(ip, (const mp_code_state_t *)code_state);
        }
    }
    w += map_w;
    cycles += w;
    if (prof_i < MAX_PROF) {
        prof_c[prof_i] += w + body;
    }
    if (cycles >= alarm_at && (!in_callback || nest_ok)) {
        run_alarm();
    }
    if (body) {
        charge_c(body);
        if (pending && !in_callback && !pending_held) {
            pass_gc();
        }
    }
}

// Collections as a Pico would have them. The board model allocates in the same heap, so
// the heap's own automatic collections come at other moments than on a Pico. Charged:
// a gc.collect() the firmware calls (explicit), and the automatic collection a Pico would
// make once the firmware's own allocations since the last collection exceed the heap a
// Pico has free (PICO_FREE_AT_REPL less the firmware's live heap after that collection).
static bool gc_explicit;
static uint32_t fw_alloc_since;         // bytes the firmware allocated since a collection
static uint32_t fw_free_after_gc = 0xFFFFFFFFu;
static uint32_t pico_free;              // gc.mem_free() of a bare Pico (set_heap_costs)
static size_t fw_live;                  // the firmware's live heap after the last collection

static void charge_gc(void) {
    uint32_t c = gc_fix + (uint32_t)((uint64_t)gc_per_kb * fw_live / 1024);
    pending += c;                    // passed at the next bytecode (pass_gc)
    gc_count++;
    gc_last_cycles = c;
    fw_alloc_since = 0;
}

// The net profile: bytes the firmware allocated and did not give back at once, by site
// (module, opcode). The allocation's pointer and site wait in a small open-addressed table
// until it is freed at once (gc_free: subtracted from its site) or a collection comes
// (the table is cleared: what was left is garbage or live, and counts). For finding what
// makes the firmware's heap grow; profile() and op_alloc() count frames too.
#define NET_SLOTS 65536                 // a power of two: a collection's worth of garbage
                                        // (a full run is not tracked: its free is missed)
#define NET_PROBES 32
static void *net_ptr[NET_SLOTS];
static uint16_t net_site[NET_SLOTS];    // prof_i << 8 | opcode
static uint32_t net_bytes[NET_SLOTS];
static uint32_t site_net[MAX_PROF * 256];
static uint32_t pending_site, pending_bytes;
static bool pending_net;
// and by function (its name): net_functions()
#define FN_SLOTS 1024
static uint16_t net_fn[NET_SLOTS];
static qstr fn_q[FN_SLOTS];
static int32_t fn_net[FN_SLOTS];
static uint16_t pending_fn;

static uint16_t fn_slot(qstr q) {
    size_t i = q & (FN_SLOTS - 1);
    for (size_t k = 0; k < FN_SLOTS; k++, i = (i + 1) & (FN_SLOTS - 1)) {
        if (fn_q[i] == q || fn_q[i] == 0) {
            fn_q[i] = q;
            return (uint16_t)i;
        }
    }
    return 0;
}

void focusrig_alloc_tick(size_t n_blocks) {
    // the firmware's (not the board model's) allocation: counted once it is made
    // (alloc_done). Not here: under heap_lock (a hard IRQ handler run from the board's
    // idle loop) gc_alloc refuses after this point, and a call's frame then goes on the C
    // stack: counted here, every frame a refill IRQ made read as heap growth (~80 KB/s in
    // a servo, where the rp2040 target measures 4 KB/s)
    pending_net = fw_running && weights_set && !in_callback;
    pending_bytes = 16 * (uint32_t)n_blocks;
    pending_site = (uint32_t)(prof_i << 8 | last_op);
    pending_fn = pending_net ? fn_slot(last_fun_name) : 0;
}

static size_t net_slot(void *ptr) {
    return ((uintptr_t)ptr >> 4) & (NET_SLOTS - 1);
}

void focusrig_alloc_done(void *ptr) {
    if (!pending_net || ptr == NULL) {
        pending_net = false;
        return;
    }
    pending_net = false;
    // charged at the next bytecode's alarm check: never run the board here (mid-allocation)
    uint32_t n = pending_bytes;
    charge_c(alloc_fix + alloc_block * (n / 16));
    fw_alloc_since += n;
    op_alloc[last_op] += n;
    if (gc_per_kb && fw_alloc_since > fw_free_after_gc) {
        charge_gc();                // a Pico's heap is full here: it collects
    }
    uint16_t site = 0xFFFF;            // (a module past the profile's MAX_PROF)
    if (prof_i < MAX_PROF) {
        prof_a[prof_i] += n;
        site_net[pending_site] += n;
        site = (uint16_t)pending_site;
    }
    size_t i = net_slot(ptr);
    for (size_t k = 0; k < NET_PROBES; k++, i = (i + 1) & (NET_SLOTS - 1)) {
        if (net_ptr[i] == NULL || net_ptr[i] == ptr) {
            net_ptr[i] = ptr;
            net_site[i] = site;
            net_bytes[i] = n;
            net_fn[i] = pending_fn;
            fn_net[pending_fn] += (int32_t)n;
            return;
        }
    }
}

static void net_clear(void) {
    memset(net_ptr, 0, sizeof(net_ptr));
}

void focusrig_free_tick(void *ptr, size_t n) {
    // memory freed at once never waits for a collection: it does not bring one nearer.
    // Only what was counted (found by its pointer): freed by whoever was running then (a
    // frame freed as a call returns into the board model), it was the firmware's.
    (void)n;
    size_t i = net_slot(ptr);
    for (size_t k = 0; k < NET_PROBES; k++, i = (i + 1) & (NET_SLOTS - 1)) {
        if (net_ptr[i] == ptr) {
            uint32_t b = net_bytes[i];
            if (costs_set) {
                charge_c(cost[K_FREE]);     // gc_free (a large call frame, as the call returns)
            }
            fw_alloc_since = fw_alloc_since > b ? fw_alloc_since - b : 0;
            if (net_site[i] != 0xFFFF) {
                site_net[net_site[i]] -= b;
            }
            fn_net[net_fn[i]] -= (int32_t)b;
            // leave no hole in a probe chain: move the chain's later entries back
            net_ptr[i] = NULL;
            size_t j = (i + 1) & (NET_SLOTS - 1);
            while (net_ptr[j] != NULL) {
                void *p = net_ptr[j];
                uint16_t st = net_site[j];
                uint16_t fn = net_fn[j];
                uint32_t b = net_bytes[j];
                net_ptr[j] = NULL;
                size_t h = net_slot(p);
                while (net_ptr[h] != NULL) {
                    h = (h + 1) & (NET_SLOTS - 1);
                }
                net_ptr[h] = p;
                net_site[h] = st;
                net_fn[h] = fn;
                net_bytes[h] = b;
                j = (j + 1) & (NET_SLOTS - 1);
            }
            return;
        }
        if (net_ptr[i] == NULL) {
            return;
        }
    }
}

void focusrig_enter_fun(void *globals, const void *fun, size_t n_args) {
    for (size_t i = 0; i < n_board; i++) {
        if (board_globals[i] == globals) {
            if (fw_running && costs_set) {
                // the firmware calls a built-in the board models in Python: its C body
                uint32_t c = cost[K_BODY];
                for (size_t k = 0; k < n_bodies; k++) {
                    if (body_fun[k] == fun) {
                        c = body_cyc[k];
                        break;
                    }
                }
                cycles += c;
                if (prof_i < MAX_PROF) {
                    prof_c[prof_i] += c;
                }
                // an interrupt due within that body is taken before the board function
                // acts: one due as machine.disable_irq() is called comes first, as on a
                // Pico (else it was held to the next enable_irq(): a press stamped 134 us
                // late behind an IRQs-off section it came before)
                if (cycles >= alarm_at && (!in_callback || nest_ok)) {
                    run_alarm();
                }
            }
            fw_running = false;
            return;
        }
    }
    if (costs_set) {
        // a Python function's frame: its state set up, its arguments bound
        uint32_t c = cost[K_ENTER] + cost[K_ENTER_ARG] * (uint32_t)n_args;
        cycles += c;
        if (prof_i < MAX_PROF) {
            prof_c[prof_i] += c;
        }
    }
    fw_running = true;
}

// qstr_find_strn searches the pools newest first: a RAM pool (qstrs added at run time:
// the .mpy files', interned strs) one entry at a time from its oldest, a ROM pool by
// bisection. So a miss, or a hit in ROM, passes every RAM qstr; a hit in RAM the pools
// newer than its own and its own up to it. Only the firmware's count: the virtual Pico's
// RAM pools also hold the board model's, which a Pico has not.
#define QSTR_MARKS 65536
// Where a qstr would be on a Pico: the n-th the firmware added (its .mpy files', main.py's,
// what it interned since), in pools of QSTR_POOL0, 2x, 4x ... entries (py/qstr.c qstr_add
// doubles each new pool; the rp2040 target: 6 pools for 915 qstrs with the product loaded,
// micropython.qstr_info()). The virtual Pico's own pools also hold the board model's qstrs
// and so fall elsewhere.
static uint16_t fw_index[QSTR_MARKS];   // its index + 1 among the firmware's (0: not one)
static uint32_t fw_qstr_count;
static bool qstrs_fw;                   // qstrs_firmware(): compiling the firmware's main.py
static uint32_t qstr_pool0 = 20;

void focusrig_qstr_loading(void) {
    qstrs_mpy = costs_set;              // the board's own modules load before the model
}

// the firmware is making or looking for a qstr: loading its .mpy files, compiling main.py
// or interning a str at run time (not the board model before the CPU model is installed,
// which runs with fw_running still set from the interpreter's start)
static bool qstr_for_firmware(void) {
    return qstrs_fw || qstrs_mpy || (fw_running && costs_set);
}

// A Pico's qstr numbers (pico_qstrs(): the official UF2's ROM pools, then the firmware's
// in the order it adds them, from 'main.py' on), + 1; 0: not known (the board model's own)
static uint16_t pico_q[QSTR_MARKS];
static uint32_t n_pico_rom;

static bool pico_has_in_rom(size_t q) {
    return pico_q[q] != 0 && pico_q[q] <= n_pico_rom;
}

static void mark_fw_qstr(size_t q) {
    fw_index[q] = (uint16_t)(++fw_qstr_count < 0xFFFF ? fw_qstr_count : 0xFFFF);
    if (n_pico_rom) {
        uint32_t n = n_pico_rom + fw_qstr_count;         // its number + 1
        pico_q[q] = (uint16_t)(n < 0xFFFF ? n : 0xFFFF);
    }
}

void focusrig_qstr_added(size_t q) {
    if (qstr_for_firmware() && q < QSTR_MARKS) {
        mark_fw_qstr(q);
    }
}

// the firmware interned a name the interpreter already had: its own static one or one the
// board model added (`Pin`'s `K`, `_buf`). A Pico has it only if in its ROM; else it adds
// it now, in RAM, as the firmware's. (A str made from data is only looked for: not here.)
void focusrig_qstr_interned(size_t q) {
    if (q < QSTR_MARKS && !fw_index[q] && !pico_has_in_rom(q) && qstr_for_firmware()) {
        mark_fw_qstr(q);
    }
}

// a str the firmware makes from data (decode, split, json) is a qstr only if a Pico has
// that qstr: the unix port's own names and the board model's are not (json.loads of a
// move command: 128 bytes on the rp2040 target, 96 here while 'cmd' and 'to' were found)
size_t focusrig_str_qstr(size_t q) {
    if (q == MP_QSTRnull || !n_pico_rom || !(fw_running && costs_set) || q >= QSTR_MARKS) {
        return q;
    }
    return (fw_index[q] || pico_has_in_rom(q)) ? q : MP_QSTRnull;
}

// py/map.c's lookup cache (MAP_CACHE_ENTRY): the firmware's is the interpreter's own,
// slotted as a Pico slots it (by the qstr's Pico number: MAP_CACHE_OFFSET); the board
// model's lookups (its Python: C or silicon on a Pico) use one of their own, so they
// never evict an entry of the firmware's (a board ticks_us() made the firmware's next
// `time` miss the cache each call)
static uint8_t board_map_cache[MICROPY_OPT_MAP_LOOKUP_CACHE_SIZE];

// Keys that are not names (an object, an int: hashed by value or address) are neither
// counted nor let into the firmware's cache: their slots depend on addresses, a Pico's
// differ, and here they moved from run to run with the board model's own allocations
// (the same scenario took different virtual time).
static uint8_t object_map_cache[MICROPY_OPT_MAP_LOOKUP_CACHE_SIZE];

uint8_t *focusrig_map_cache_entry(uintptr_t index) {
    if (!fw_running) {
        return &board_map_cache[(index >> 2) % MICROPY_OPT_MAP_LOOKUP_CACHE_SIZE];
    }
    if (!mp_obj_is_qstr((mp_obj_t)index)) {
        return &object_map_cache[(index >> 2) % MICROPY_OPT_MAP_LOOKUP_CACHE_SIZE];
    }
    size_t q = MP_OBJ_QSTR_VALUE((mp_obj_t)index);
    if (q < QSTR_MARKS && pico_q[q]) {
        index = (uintptr_t)MP_OBJ_NEW_QSTR(pico_q[q] - 1u);
    }
    return &MP_STATE_VM(map_lookup_cache)[(index >> 2) % MICROPY_OPT_MAP_LOOKUP_CACHE_SIZE];
}

// pico_qstrs(names): the official firmware's ROM qstrs in their order (its numbers), from
// tools/pico_qstrs.py; each is interned here (the board's, before the CPU model counts)
static uint32_t pico_const_start, pico_frozen_start;    // the ROM pools' first numbers

static mp_obj_t vphook_pico_qstrs(mp_obj_t names, mp_obj_t const_start, mp_obj_t frozen_start) {
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(names, &n, &items);
    pico_const_start = mp_obj_get_int(const_start);
    pico_frozen_start = mp_obj_get_int(frozen_start);
    // (the first is MP_QSTRnull, whose text "" is also MP_QSTR_'s, the second)
    for (size_t i = 1; i < n && i < 0xFFFE; i++) {
        size_t len;
        const char *str = mp_obj_str_get_data(items[i], &len);
        qstr q = qstr_from_strn(str, len);
        if (q < QSTR_MARKS && !pico_q[q]) {
            pico_q[q] = (uint16_t)(i + 1);
        }
    }
    n_pico_rom = n;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(vphook_pico_qstrs_obj, vphook_pico_qstrs);

// qstr_find_strn searches the pools newest first: a RAM pool one entry at a time from its
// oldest, the ROM pools by bisection. So a miss, or a hit in ROM (or one of the board
// model's), passes every RAM qstr; a hit in RAM the pools newer than its own and its own
// up to it.
void focusrig_qstr_find(size_t q, size_t len) {
    if (!(costs_set && fw_running)) {
        return;
    }
    uint32_t n = fw_qstr_count;
    uint32_t c = cost[K_QSTR_FIND] + (uint32_t)len * cost[K_QSTR_BYTE];
    if (q != MP_QSTRnull && q < QSTR_MARKS && fw_index[q]) {
        uint32_t i = fw_index[q] - 1u;
        uint32_t start = 0, size = qstr_pool0;
        while (i >= start + size) {
            start += size;
            size *= 2;
        }
        uint32_t end = start + size;
        c += ((n > end ? n - end : 0) + (i - start + 1)) * cost[K_QSTR_ENTRY];
    } else {
        // past every RAM qstr, then a Pico's ROM pools, newest first: the frozen modules'
        // and the main one by bisection, the static one entry by entry (py/qstr.c)
        c += n * cost[K_QSTR_ENTRY] + cost[K_QSTR_FROZEN];
        uint32_t r = (q != MP_QSTRnull && q < QSTR_MARKS && pico_has_in_rom(q)) ? pico_q[q] - 1u : 0xFFFFFFFFu;
        if (r == 0xFFFFFFFFu) {             // a miss: all three
            c += cost[K_QSTR_CONST] + pico_const_start * cost[K_QSTR_STATIC];
        } else if (r < pico_frozen_start) { // found in the main pool, or the static one
            c += cost[K_QSTR_CONST];
            if (r < pico_const_start) {
                c += (r + 1u) * cost[K_QSTR_STATIC];
            }
        }
    }
    charge_c(c);
    if (prof_i < MAX_PROF) {
        prof_c[prof_i] += c;
    }
}

void focusrig_gc_explicit(void) {
    gc_explicit = fw_running && !in_callback;
}

// A collection of the interpreter's heap (the board model's garbage and the firmware's
// together, when that heap fills: not when a Pico's would) makes map lookups of its own
// (a finaliser's __del__ looked up as the sweep frees an object): not the firmware's, so
// neither counted nor left in its lookup cache. (They made the same scenario take
// different virtual time from run to run.)
static uint32_t gc_saved_hashed, gc_saved_probes;
static uint8_t gc_saved_cache[MICROPY_OPT_MAP_LOOKUP_CACHE_SIZE];
static bool in_gc;

void focusrig_gc_start(void) {
    in_gc = true;
    gc_saved_hashed = focusrig_map_hashed;
    gc_saved_probes = focusrig_map_probes;
    memcpy(gc_saved_cache, MP_STATE_VM(map_lookup_cache), sizeof(gc_saved_cache));
}

void focusrig_gc_done(void) {
    if (in_gc) {
        in_gc = false;
        focusrig_map_hashed = gc_saved_hashed;
        focusrig_map_probes = gc_saved_probes;
        memcpy(MP_STATE_VM(map_lookup_cache), gc_saved_cache, sizeof(gc_saved_cache));
    }
    net_clear();
    if (!weights_set || gc_per_kb == 0) {
        return;
    }
    gc_info_t info;
    gc_info(&info);
    fw_live = info.used > gc_board_bytes ? info.used - gc_board_bytes : 0;
    if (gc_explicit) {
        gc_explicit = false;
        charge_gc();
    }
    fw_free_after_gc = pico_free > fw_live ? pico_free - (uint32_t)fw_live : 0;
}

// set_heap_costs(alloc_fix, alloc_block, gc_fix, gc_per_kb, board_bytes, pico_free)
static mp_obj_t vphook_set_heap_costs(size_t n_args, const mp_obj_t *args) {
    alloc_fix = mp_obj_get_int(args[0]);
    alloc_block = mp_obj_get_int(args[1]);
    gc_fix = mp_obj_get_int(args[2]);
    gc_per_kb = mp_obj_get_int(args[3]);
    gc_board_bytes = mp_obj_get_int(args[4]);
    pico_free = mp_obj_get_int(args[5]);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vphook_set_heap_costs_obj, 6, 6, vphook_set_heap_costs);

// charge(n): n cycles of the firmware's C work (a board model of a built-in calls it)
static mp_obj_t vphook_charge(mp_obj_t n) {
    if (weights_set && !in_callback) {
        pending += (uint32_t)mp_obj_get_int(n);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_charge_obj, vphook_charge);

// hold(flag): while an interrupt handler runs outside the alarm callback (one held by
// disable_irq, run at enable_irq), charged C work does not pass: on a Pico the handler
// preempts it, and the board defers events while a handler runs. And no scheduled (soft)
// callback runs inside a hard handler, wherever the board runs it from (the alarm, an
// idle wait, a board call): mp_irq_dispatch locks the scheduler around it
// (shared/runtime/mpirq.c:84, 96). Without it, a soft timer's callback ran inside a hard
// one and failed there (a timer re-armed in a timer's handler).
static mp_obj_t vphook_hold(mp_obj_t flag) {
    bool on = mp_obj_is_true(flag);
    #if MICROPY_ENABLE_SCHEDULER
    if (on && !pending_held) {
        mp_sched_lock();
    } else if (!on && pending_held) {
        mp_sched_unlock();
    }
    #endif
    pending_held = on;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_hold_obj, vphook_hold);

// preemptible(flag) -> the previous flag: the board runs a PendSV-priority handler (see
// nest_ok); its alarm may run between the handler's bytecodes. Returns the old value so
// the board restores it.
static mp_obj_t vphook_preemptible(mp_obj_t flag) {
    bool was = nest_ok;
    nest_ok = mp_obj_is_true(flag);
    return mp_obj_new_bool(was);
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_preemptible_obj, vphook_preemptible);

// profile() -> [(module name, bytecode cycles charged, bytes allocated), ...]
static mp_obj_t vphook_profile(void) {
    mp_obj_t out = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < n_prof; i++) {
        mp_obj_t t[3] = {MP_OBJ_NEW_QSTR(prof_name[i]), mp_obj_new_int_from_uint(prof_c[i]),
                         mp_obj_new_int_from_uint(prof_a[i])};
        mp_obj_list_append(out, mp_obj_new_tuple(3, t));
    }
    return out;
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_profile_obj, vphook_profile);

// map_counts() -> (hash-path lookups, further slots probed): the firmware's map lookups so
// far that missed rp2's lookup cache, and the extra probes (charged: K_MAP_HASHED/PROBE)
static mp_obj_t vphook_map_counts(void) {
    mp_obj_t t[2] = {mp_obj_new_int_from_uint(map_hashed_total), mp_obj_new_int_from_uint(map_probes_total)};
    return mp_obj_new_tuple(2, t);
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_map_counts_obj, vphook_map_counts);

// map_profile() -> [(module, opcode, hash-path lookups, further probes)]: where the
// firmware's map lookups missed the cache and probed (what MAP_HASHED / MAP_PROBE charge)
static mp_obj_t vphook_map_profile(void) {
    mp_obj_t l = mp_obj_new_list(0, NULL);
    for (size_t m = 0; m < n_prof && m < MAX_PROF; m++) {
        for (size_t op = 0; op < 256; op++) {
            uint32_t h = map_site_hashed[m << 8 | op], p = map_site_probes[m << 8 | op];
            if (h || p) {
                mp_obj_t t[4] = {MP_OBJ_NEW_QSTR(prof_name[m]), MP_OBJ_NEW_SMALL_INT(op),
                                 mp_obj_new_int_from_uint(h), mp_obj_new_int_from_uint(p)};
                mp_obj_list_append(l, mp_obj_new_tuple(4, t));
            }
        }
    }
    return l;
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_map_profile_obj, vphook_map_profile);

// fw_heap() -> (the firmware's live heap after the last collection, bytes it allocated
// since): what gc.mem_alloc() reads on a Pico (board/_vp_gc.py)
static mp_obj_t vphook_fw_heap(void) {
    mp_obj_t t[2] = {mp_obj_new_int_from_uint(fw_live), mp_obj_new_int_from_uint(fw_alloc_since)};
    return mp_obj_new_tuple(2, t);
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_fw_heap_obj, vphook_fw_heap);

// firmware_collected(): the firmware's gc.collect() just ran (through board/_vp_gc.py,
// board code, so the hook in py/modgc.c did not see the firmware): charge it
static mp_obj_t vphook_firmware_collected(void) {
    if (weights_set && gc_per_kb) {
        charge_gc();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_firmware_collected_obj, vphook_firmware_collected);

// net_functions() -> [(function name, bytes allocated and not freed at once), ...]
static mp_obj_t vphook_net_functions(void) {
    mp_obj_t l = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < FN_SLOTS; i++) {
        if (fn_q[i] && fn_net[i]) {
            mp_obj_t t[2] = {MP_OBJ_NEW_QSTR(fn_q[i]), mp_obj_new_int(fn_net[i])};
            mp_obj_list_append(l, mp_obj_new_tuple(2, t));
        }
    }
    return l;
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_net_functions_obj, vphook_net_functions);

// net_profile() -> [(module name, opcode, bytes allocated and not freed at once), ...]
static mp_obj_t vphook_net_profile(void) {
    mp_obj_t l = mp_obj_new_list(0, NULL);
    for (size_t m = 0; m < n_prof && m < MAX_PROF; m++) {
        for (size_t op = 0; op < 256; op++) {
            uint32_t b = site_net[m << 8 | op];
            if (b && b < 0x80000000u) {
                mp_obj_t t[3] = {MP_OBJ_NEW_QSTR(prof_name[m]), MP_OBJ_NEW_SMALL_INT(op),
                                 mp_obj_new_int_from_uint(b)};
                mp_obj_list_append(l, mp_obj_new_tuple(3, t));
            }
        }
    }
    return l;
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_net_profile_obj, vphook_net_profile);

// op_alloc() -> [(opcode, bytes the firmware allocated while it ran), ...]
static mp_obj_t vphook_op_alloc(void) {
    mp_obj_t out = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < 256; i++) {
        if (op_alloc[i]) {
            mp_obj_t t[2] = {MP_OBJ_NEW_SMALL_INT(i), mp_obj_new_int_from_uint(op_alloc[i])};
            mp_obj_list_append(out, mp_obj_new_tuple(2, t));
        }
    }
    return out;
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_op_alloc_obj, vphook_op_alloc);

// gc_stats() -> (collections charged, cycles of the last one)
static mp_obj_t vphook_gc_stats(void) {
    mp_obj_t t[2] = {mp_obj_new_int_from_uint(gc_count), mp_obj_new_int_from_uint(gc_last_cycles)};
    return mp_obj_new_tuple(2, t);
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_gc_stats_obj, vphook_gc_stats);

static mp_obj_t vphook_take(void) {
    uint32_t c = cycles;
    cycles = 0;
    if (alarm_at != 0xFFFFFFFFu) {
        alarm_at = alarm_at > c ? alarm_at - c : 0;
    }
    if (c > 0x3FFFFFFFu) {
        c = 0x3FFFFFFFu;
    }
    return MP_OBJ_NEW_SMALL_INT(c);
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_take_obj, vphook_take);

static mp_obj_t vphook_peek(void) {
    return MP_OBJ_NEW_SMALL_INT(cycles > 0x3FFFFFFFu ? 0x3FFFFFFFu : cycles);
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_peek_obj, vphook_peek);

// set_alarm(n): run the callback once n more cycles have been charged (-1: never)
static mp_obj_t vphook_set_alarm(mp_obj_t n_in) {
    mp_int_t n = mp_obj_get_int(n_in);
    alarm_at = n < 0 ? 0xFFFFFFFFu : cycles + (uint32_t)n;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_set_alarm_obj, vphook_set_alarm);

static mp_obj_t vphook_set_callback(mp_obj_t cb) {
    MP_STATE_VM(focusrig_alarm_cb) = cb;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_set_callback_obj, vphook_set_callback);

// board_module(module or globals dict): code running with these globals is the board's
static mp_obj_t vphook_board_module(mp_obj_t mod) {
    mp_obj_dict_t *g;
    if (mp_obj_is_type(mod, &mp_type_module)) {
        g = mp_obj_module_get_globals(mod);
    } else if (mp_obj_is_type(mod, &mp_type_dict)) {
        g = MP_OBJ_TO_PTR(mod);
    } else {
        mp_raise_TypeError(MP_ERROR_TEXT("module or dict expected"));
    }
    if (n_board >= MAX_BOARD) {
        mp_raise_ValueError(MP_ERROR_TEXT("too many board modules"));
    }
    mp_map_elem_t *e = mp_map_lookup(&g->map, MP_OBJ_NEW_QSTR(MP_QSTR___name__), MP_MAP_LOOKUP);
    // (the boot script runs as __main__, as the firmware's main.py does: not a class's mark)
    qstr name = (e && mp_obj_is_qstr(e->value)) ? MP_OBJ_QSTR_VALUE(e->value) : MP_QSTR_;
    board_name[n_board] = name == MP_QSTR___main__ ? MP_QSTR_ : name;
    board_globals[n_board++] = g;
    last_fw = NULL;
    n_types = 0;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_board_module_obj, vphook_board_module);

// set_costs(sequence of N_COSTS cycle counts), in the order of the enum above
static mp_obj_t vphook_set_costs(mp_obj_t seq) {
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(seq, &n, &items);
    if (n != N_COSTS) {
        mp_raise_ValueError(MP_ERROR_TEXT("wrong number of costs"));
    }
    for (size_t i = 0; i < n; i++) {
        cost[i] = mp_obj_get_int(items[i]);
    }
    costs_set = true;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_set_costs_obj, vphook_set_costs);

// c_cost(function, cycles, per_byte, per_item): the C body of a built-in (a C function,
// or the board function standing for one), plus per byte or item of its subject (the
// first argument or self; for a C built-in only)
static mp_obj_t vphook_c_cost(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    if (n_bodies >= MAX_BODIES) {
        mp_raise_ValueError(MP_ERROR_TEXT("too many built-in costs"));
    }
    mp_obj_t fun = args[0];
    if (mp_obj_is_type(fun, &mp_type_tuple)) {
        // (native type, method name): its locals dict's entry (type.method is not it: a
        // native type's attribute is looked up afresh, so `str.split is str.split` fails)
        size_t n;
        mp_obj_t *tm;
        mp_obj_tuple_get(fun, &n, &tm);
        const mp_obj_type_t *t = MP_OBJ_TO_PTR(tm[0]);
        mp_map_elem_t *e = n == 2 && mp_obj_is_type(tm[0], &mp_type_type) && MP_OBJ_TYPE_HAS_SLOT(t, locals_dict)
            ? mp_map_lookup(&MP_OBJ_TYPE_GET_SLOT(t, locals_dict)->map, mp_obj_new_str_from_cstr(mp_obj_str_get_str(tm[1])), MP_MAP_LOOKUP)
            : NULL;
        if (e == NULL) {
            mp_raise_ValueError(MP_ERROR_TEXT("no such method"));
        }
        fun = e->value;
    }
    body_fun[n_bodies] = MP_OBJ_TO_PTR(fun);
    body_byte[n_bodies] = mp_obj_get_int(args[2]);
    body_item[n_bodies] = mp_obj_get_int(args[3]);
    body_cyc[n_bodies++] = mp_obj_get_int(args[1]);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vphook_c_cost_obj, 4, 4, vphook_c_cost);

// c_work(n): n cycles of the port's C at once, charged where the board does that work in
// Python (an interrupt's entry and dispatch, asyncio's poll of its streams)
static mp_obj_t vphook_c_work(mp_obj_t n) {
    if (weights_set) {
        cycles += (uint32_t)mp_obj_get_int(n);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_c_work_obj, vphook_c_work);

// fw_qstrs() -> how many qstrs the firmware added at run time (a Pico's RAM pools)
// fw_qstrs() -> how many qstrs are the firmware's; fw_qstrs(True) -> them, in their order
static mp_obj_t vphook_fw_qstrs(size_t n_args, const mp_obj_t *args) {
    if (n_args == 0 || !mp_obj_is_true(args[0])) {
        return mp_obj_new_int_from_uint(fw_qstr_count);
    }
    mp_obj_t l = mp_obj_new_list(fw_qstr_count, NULL);
    mp_obj_list_t *lo = MP_OBJ_TO_PTR(l);
    for (size_t i = 0; i < fw_qstr_count; i++) {
        lo->items[i] = mp_const_none;
    }
    for (size_t q = 0; q < QSTR_MARKS; q++) {
        if (fw_index[q] && fw_index[q] <= fw_qstr_count) {
            lo->items[fw_index[q] - 1] = MP_OBJ_NEW_QSTR(q);
        }
    }
    return l;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vphook_fw_qstrs_obj, 0, 1, vphook_fw_qstrs);

// qstrs_firmware(flag): qstrs added meanwhile are the firmware's (the board compiles its
// boot.py / main.py, which a Pico does itself)
// qstrs_firmware(flag, name=None): name is the file's, which a Pico's pyexec interns first
static mp_obj_t vphook_qstrs_firmware(size_t n_args, const mp_obj_t *args) {
    qstrs_fw = mp_obj_is_true(args[0]);
    if (qstrs_fw && n_args > 1 && args[1] != mp_const_none) {
        qstr q = mp_obj_str_get_qstr(args[1]);
        if (q < QSTR_MARKS && !fw_index[q] && !pico_has_in_rom(q)) {
            mark_fw_qstr(q);
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vphook_qstrs_firmware_obj, 1, 2, vphook_qstrs_firmware);

// import_qstrs(module, names): qstrs a Pico makes when the firmware first imports module,
// which the board model imported before it (asyncio: its virtual-time hook), so they are
// there already: marked the firmware's at that import (vm tick, IMPORT_NAME)
#define MAX_IMPORT_QSTRS 4
static qstr import_mod[MAX_IMPORT_QSTRS];
static mp_obj_t import_names[MAX_IMPORT_QSTRS];
static size_t n_import_qstrs;
MP_REGISTER_ROOT_POINTER(mp_obj_t focusrig_import_names[4]);

static void import_tick(const byte *ip, const mp_code_state_t *cs) {
    qstr q = decode_qstr(ip, cs);
    for (size_t i = 0; i < n_import_qstrs; i++) {
        if (import_mod[i] == q && import_names[i] != MP_OBJ_NULL) {
            size_t n;
            mp_obj_t *items;
            mp_obj_get_array(import_names[i], &n, &items);
            for (size_t k = 0; k < n; k++) {
                qstr m = MP_OBJ_QSTR_VALUE(items[k]);
                if (m < QSTR_MARKS && !fw_index[m] && !pico_has_in_rom(m)) {
                    mark_fw_qstr(m);
                }
            }
            import_names[i] = MP_OBJ_NULL;     // the first import only
            MP_STATE_VM(focusrig_import_names)[i] = MP_OBJ_NULL;
        }
    }
}

static mp_obj_t vphook_import_qstrs(mp_obj_t mod, mp_obj_t names) {
    if (n_import_qstrs >= MAX_IMPORT_QSTRS) {
        mp_raise_ValueError(MP_ERROR_TEXT("too many import_qstrs"));
    }
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(names, &n, &items);
    mp_obj_t t = mp_obj_new_tuple(n, NULL);
    for (size_t k = 0; k < n; k++) {
        ((mp_obj_tuple_t *)MP_OBJ_TO_PTR(t))->items[k] = MP_OBJ_NEW_QSTR(mp_obj_str_get_qstr(items[k]));
    }
    import_mod[n_import_qstrs] = mp_obj_str_get_qstr(mod);
    import_names[n_import_qstrs] = t;
    MP_STATE_VM(focusrig_import_names)[n_import_qstrs++] = t;   // kept from the GC
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(vphook_import_qstrs_obj, vphook_import_qstrs);

static mp_obj_t vphook_set_weights(mp_obj_t buf_in) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(buf_in, &bi, MP_BUFFER_READ);
    if (bi.len != 512) {
        mp_raise_ValueError(MP_ERROR_TEXT("256 uint16 weights expected"));
    }
    memcpy(weight, bi.buf, 512);
    weights_set = true;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_set_weights_obj, vphook_set_weights);

// ---- USB CDC model ------------------------------------------------------------------------
bool focusrig_stdio_active;
static bool in_stdio;

static mp_obj_t vphook_set_stdio(mp_obj_t obj) {
    MP_STATE_VM(focusrig_stdio) = obj;
    focusrig_stdio_active = obj != mp_const_none;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_set_stdio_obj, vphook_set_stdio);

// The calls into the model run as the board's, and what they allocate (the bytes handed
// to write(), the reply of read()) is the board's: on a Pico this is C that allocates
// nothing (bench_alloc: a 32-byte write 3 bytes a call there, 67 here before). The caller
// is running again once they return (a select.poll() result list made right after is
// the firmware's, as on a Pico). If the model raises, the next bytecode sets it anyway.
static mp_obj_t stdio_call(qstr meth, mp_obj_t arg) {
    mp_obj_t dest[3];
    mp_load_method(MP_STATE_VM(focusrig_stdio), meth, dest);
    dest[2] = arg;
    return mp_call_method_n_kw(1, 0, dest);
}

uintptr_t focusrig_stdio_read(void *buf, uintptr_t size, int *errcode) {
    bool was = fw_running;
    fw_running = false;
    mp_obj_t r = stdio_call(MP_QSTR_read, MP_OBJ_NEW_SMALL_INT(size));
    mp_buffer_info_t bi;
    mp_get_buffer_raise(r, &bi, MP_BUFFER_READ);
    size_t n = bi.len < size ? bi.len : size;
    memcpy(buf, bi.buf, n);
    fw_running = was;
    return n;
}

uintptr_t focusrig_stdio_write(const void *buf, uintptr_t size, int *errcode) {
    bool was = fw_running;
    fw_running = false;
    mp_obj_t r = stdio_call(MP_QSTR_write, mp_obj_new_bytes(buf, size));
    fw_running = was;
    return mp_obj_get_int(r);
}

uintptr_t focusrig_stdio_poll(uintptr_t flags) {
    bool was = fw_running;
    fw_running = false;
    uintptr_t r = mp_obj_get_int(stdio_call(MP_QSTR_poll, MP_OBJ_NEW_SMALL_INT(flags)));
    fw_running = was;
    return r;
}

// print() and tracebacks: through the model too, unless the model itself is printing
bool focusrig_stdout_hook(const char *str, size_t len) {
    if (!focusrig_stdio_active || in_stdio || in_callback) {
        return false;
    }
    in_stdio = true;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        int err;
        focusrig_stdio_write(str, len, &err);
        nlr_pop();
    }
    in_stdio = false;
    return true;
}

// ---- asyncio's clock -------------------------------------------------------------------------
// set_asyncio_clock(fn): asyncio's C half (extmod/modasyncio.c ticks()) calls fn, the
// board's time.ticks_ms, instead of the host's clock: on a Pico both read the same timer
MP_REGISTER_ROOT_POINTER(mp_obj_t focusrig_asyncio_clock);

uintptr_t focusrig_asyncio_ticks_ms(void) {
    mp_obj_t fn = MP_STATE_VM(focusrig_asyncio_clock);
    if (fn == MP_OBJ_NULL) {
        return mp_hal_ticks_ms();
    }
    return (uintptr_t)mp_obj_get_int(mp_call_function_0(fn));
}

static mp_obj_t vphook_set_asyncio_clock(mp_obj_t fn) {
    MP_STATE_VM(focusrig_asyncio_clock) = fn == mp_const_none ? MP_OBJ_NULL : fn;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(vphook_set_asyncio_clock_obj, vphook_set_asyncio_clock);

// ---- the heap at a Pico's address -------------------------------------------------------------
// The RP2040's SRAM starts at 0x20000000 (datasheet 2.2.1), so a Pico's objects live below
// 2**30 and id(obj), their address, is a small int. The unix port mallocs its heap, which
// a 32-bit Linux process gets above 2**30: every id() was a big int (16 bytes allocated).
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#define PICO_SRAM_BASE ((uintptr_t)0x20000000u)
static bool heap_mapped;

char *focusrig_heap_alloc(size_t n) {
    void *want = (void *)PICO_SRAM_BASE;
    void *p = mmap(want, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == want) {
        heap_mapped = true;
        return p;
    }
    if (p != MAP_FAILED) {
        munmap(p, n);               // an old kernel took the address as a hint only
    }
    return malloc(n);               // taken: a heap elsewhere (ids may then be big ints)
}

void focusrig_heap_free(char *heap, size_t n) {
    if (heap_mapped) {
        munmap(heap, n);
    } else {
        free(heap);
    }
}

// ---- raw fds (for the model) and the keyboard interrupt -----------------------------------
static mp_obj_t vphook_raw_write(mp_obj_t fd_in, mp_obj_t buf_in) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(buf_in, &bi, MP_BUFFER_READ);
    int fd = mp_obj_get_int(fd_in);
    const char *p = bi.buf;
    size_t left = bi.len;
    while (left) {
        ssize_t r = write(fd, p, left);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            mp_raise_OSError(errno);
        }
        p += r;
        left -= r;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(vphook_raw_write_obj, vphook_raw_write);

// raw_poll(fd, ms): True when fd has input (waits up to ms; 0 = just look)
static mp_obj_t vphook_raw_poll(mp_obj_t fd_in, mp_obj_t ms_in) {
    struct pollfd p = { .fd = mp_obj_get_int(fd_in), .events = POLLIN };
    int r = poll(&p, 1, mp_obj_get_int(ms_in));
    return mp_obj_new_bool(r > 0 && (p.revents & (POLLIN | POLLHUP)));
}
static MP_DEFINE_CONST_FUN_OBJ_2(vphook_raw_poll_obj, vphook_raw_poll);

// raw_read(fd, n): what is there now (b"" at end of file), never waits
static mp_obj_t vphook_raw_read(mp_obj_t fd_in, mp_obj_t n_in) {
    int fd = mp_obj_get_int(fd_in);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 0) <= 0) {
        return mp_const_none;
    }
    size_t n = mp_obj_get_int(n_in);
    vstr_t v;
    vstr_init_len(&v, n);
    ssize_t r = read(fd, v.buf, n);
    if (r < 0) {
        vstr_clear(&v);
        return mp_const_none;
    }
    v.len = r;
    return mp_obj_new_bytes_from_vstr(&v);
}
static MP_DEFINE_CONST_FUN_OBJ_2(vphook_raw_read_obj, vphook_raw_read);

static mp_obj_t vphook_kbd_interrupt(void) {
    mp_sched_keyboard_interrupt();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(vphook_kbd_interrupt_obj, vphook_kbd_interrupt);

static const mp_rom_map_elem_t vphook_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__vphook) },
    { MP_ROM_QSTR(MP_QSTR_take), MP_ROM_PTR(&vphook_take_obj) },
    { MP_ROM_QSTR(MP_QSTR_peek), MP_ROM_PTR(&vphook_peek_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_alarm), MP_ROM_PTR(&vphook_set_alarm_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_callback), MP_ROM_PTR(&vphook_set_callback_obj) },
    { MP_ROM_QSTR(MP_QSTR_board_module), MP_ROM_PTR(&vphook_board_module_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_weights), MP_ROM_PTR(&vphook_set_weights_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_costs), MP_ROM_PTR(&vphook_set_costs_obj) },
    { MP_ROM_QSTR(MP_QSTR_c_cost), MP_ROM_PTR(&vphook_c_cost_obj) },
    { MP_ROM_QSTR(MP_QSTR_c_work), MP_ROM_PTR(&vphook_c_work_obj) },
    { MP_ROM_QSTR(MP_QSTR_qstrs_firmware), MP_ROM_PTR(&vphook_qstrs_firmware_obj) },
    { MP_ROM_QSTR(MP_QSTR_fw_qstrs), MP_ROM_PTR(&vphook_fw_qstrs_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_heap_costs), MP_ROM_PTR(&vphook_set_heap_costs_obj) },
    { MP_ROM_QSTR(MP_QSTR_gc_stats), MP_ROM_PTR(&vphook_gc_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_charge), MP_ROM_PTR(&vphook_charge_obj) },
    { MP_ROM_QSTR(MP_QSTR_hold), MP_ROM_PTR(&vphook_hold_obj) },
    { MP_ROM_QSTR(MP_QSTR_preemptible), MP_ROM_PTR(&vphook_preemptible_obj) },
    { MP_ROM_QSTR(MP_QSTR_profile), MP_ROM_PTR(&vphook_profile_obj) },
    { MP_ROM_QSTR(MP_QSTR_fw_heap), MP_ROM_PTR(&vphook_fw_heap_obj) },
    { MP_ROM_QSTR(MP_QSTR_map_counts), MP_ROM_PTR(&vphook_map_counts_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_asyncio_clock), MP_ROM_PTR(&vphook_set_asyncio_clock_obj) },
    { MP_ROM_QSTR(MP_QSTR_import_qstrs), MP_ROM_PTR(&vphook_import_qstrs_obj) },
    { MP_ROM_QSTR(MP_QSTR_pico_qstrs), MP_ROM_PTR(&vphook_pico_qstrs_obj) },
    { MP_ROM_QSTR(MP_QSTR_map_profile), MP_ROM_PTR(&vphook_map_profile_obj) },
    { MP_ROM_QSTR(MP_QSTR_op_alloc), MP_ROM_PTR(&vphook_op_alloc_obj) },
    { MP_ROM_QSTR(MP_QSTR_net_profile), MP_ROM_PTR(&vphook_net_profile_obj) },
    { MP_ROM_QSTR(MP_QSTR_net_functions), MP_ROM_PTR(&vphook_net_functions_obj) },
    { MP_ROM_QSTR(MP_QSTR_firmware_collected), MP_ROM_PTR(&vphook_firmware_collected_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_stdio), MP_ROM_PTR(&vphook_set_stdio_obj) },
    { MP_ROM_QSTR(MP_QSTR_raw_write), MP_ROM_PTR(&vphook_raw_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_raw_read), MP_ROM_PTR(&vphook_raw_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_raw_poll), MP_ROM_PTR(&vphook_raw_poll_obj) },
    { MP_ROM_QSTR(MP_QSTR_kbd_interrupt), MP_ROM_PTR(&vphook_kbd_interrupt_obj) },
};
static MP_DEFINE_CONST_DICT(vphook_globals, vphook_globals_table);

const mp_obj_module_t focusrig_vphook_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&vphook_globals,
};

MP_REGISTER_MODULE(MP_QSTR__vphook, focusrig_vphook_module);
