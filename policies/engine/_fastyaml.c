/* The native YAML reader: libyaml's events straight into yamlio's LineDict and LineList.
 *
 * It builds exactly what yamlio's pure-Python reader builds from PyYAML's node tree (same
 * values, same lines, same errors in the same order), without PyYAML's event, mark and node
 * objects in between. yamlio.py is the specification; tests/engine/test_yamlio_parity.py
 * feeds both readers the same inputs.
 *
 * Error order, as in the Python reader: a syntax error anywhere in the stream (including an
 * undefined alias or a duplicate anchor) wins; otherwise the first document with an error
 * reports it, the alias-bomb check before the first build error of that document.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <yaml.h>

enum { K_SCALAR, K_SEQ, K_MAP };
enum { KEY_NORMAL, KEY_MERGE, KEY_IGNORE };

/* Set once by configure(): yamlio's classes, its scalar hook and the guards' limits. */
static PyTypeObject *LineDict_T, *LineList_T;
static Py_ssize_t dict_line_off, dict_lines_off, list_line_off, list_lines_off;
static PyObject *scalar_hook;   /* (tag, text, plain_implicit, quoted_implicit) -> (tag, value) */
static PyObject *BadScalar;     /* what scalar_hook raises for a value its tag cannot read */
static PyObject *YamlError;     /* ours: args (message, line) */
static PyObject *empty_tuple;
static long max_depth = 64;
static long long max_expanded = 1000000;

static const char MERGE_TAG[] = "tag:yaml.org,2002:merge";
static const char INT_TAG[] = "tag:yaml.org,2002:int";
static const char FLOAT_TAG[] = "tag:yaml.org,2002:float";

/* ---- small caches ------------------------------------------------------------------------- */
/* Manifests repeat the same keys and values (metadata, labels, kinds, ports) thousands of
 * times: a direct-mapped cache from the scalar's bytes to the object built for it saves both
 * the decoding and the memory of duplicates. Plain and quoted scalars resolve differently
 * ("80" vs '80'), so they have a table each. Floats come from the Python hook every time,
 * as in the other reader (its NaN is one object, so two `.nan` keys are duplicates there). */
#define CACHE_SLOTS 8192
#define CACHE_MAX_LEN 48
typedef struct {
    Py_ssize_t len;
    char bytes[CACHE_MAX_LEN];
    PyObject *value;
} CacheSlot;
static CacheSlot plain_cache[CACHE_SLOTS], quoted_cache[CACHE_SLOTS];

static inline size_t hash_bytes(const char *s, Py_ssize_t n) {
    size_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static inline CacheSlot *cache_find(CacheSlot *table, const char *s, Py_ssize_t n, int *hit) {
    CacheSlot *slot = &table[hash_bytes(s, n) & (CACHE_SLOTS - 1)];
    *hit = slot->value != NULL && slot->len == n && memcmp(slot->bytes, s, n) == 0;
    return slot;
}

static inline void cache_store(CacheSlot *slot, const char *s, Py_ssize_t n, PyObject *value) {
    Py_XSETREF(slot->value, Py_NewRef(value));
    slot->len = n;
    memcpy(slot->bytes, s, n);
}

/* ---- YAML 1.1 implicit resolution of plain scalars (PyYAML's resolver.py, by hand) -------- */
static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/* [0-9_]* from *i */
static inline void skip_digits_(const char *s, Py_ssize_t n, Py_ssize_t *i) {
    while (*i < n && (is_digit(s[*i]) || s[*i] == '_')) (*i)++;
}

/* (?::[0-5]?[0-9])+ from *i; 1 when at least one group matched */
static int sexagesimal_groups(const char *s, Py_ssize_t n, Py_ssize_t *i) {
    int groups = 0;
    while (*i < n && s[*i] == ':') {
        Py_ssize_t j = *i + 1;
        if (j + 1 < n && s[j] >= '0' && s[j] <= '5' && is_digit(s[j + 1])) {
            /* [0-5][0-9]; a following digit would not match, but backtracking to one digit
             * leaves that digit unmatched too, so two digits is the only reading. */
            j += 2;
        } else if (j < n && is_digit(s[j])) {
            j += 1;
        } else {
            break;
        }
        *i = j;
        groups++;
    }
    return groups > 0;
}

/* The optional exponent [eE][-+][0-9]+ then the end. */
static int exponent_then_end(const char *s, Py_ssize_t n, Py_ssize_t i) {
    if (i == n) return 1;
    if (s[i] != 'e' && s[i] != 'E') return 0;
    i++;
    if (i >= n || (s[i] != '-' && s[i] != '+')) return 0;
    i++;
    if (i >= n || !is_digit(s[i])) return 0;
    while (i < n && is_digit(s[i])) i++;
    return i == n;
}

static int match_float(const char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    if (n >= 1 && s[0] == '.') {
        /* \.[0-9][0-9_]*(exp)? | \.(inf|Inf|INF) | \.(nan|NaN|NAN) */
        if (n == 4 && (!memcmp(s, ".inf", 4) || !memcmp(s, ".Inf", 4) || !memcmp(s, ".INF", 4) ||
                       !memcmp(s, ".nan", 4) || !memcmp(s, ".NaN", 4) || !memcmp(s, ".NAN", 4)))
            return 1;
        if (n >= 2 && is_digit(s[1])) {
            i = 2;
            skip_digits_(s, n, &i);
            return exponent_then_end(s, n, i);
        }
        return 0;
    }
    if (n >= 1 && (s[0] == '-' || s[0] == '+')) i = 1;
    if (i < n && s[i] == '.') {
        /* [-+]?\.(inf|Inf|INF) */
        return n - i == 4 &&
               (!memcmp(s + i, ".inf", 4) || !memcmp(s + i, ".Inf", 4) || !memcmp(s + i, ".INF", 4));
    }
    if (i >= n || !is_digit(s[i])) return 0;
    i++;
    skip_digits_(s, n, &i);
    Py_ssize_t after_int = i;
    /* [-+]?[0-9][0-9_]*\.[0-9_]*(exp)? */
    if (i < n && s[i] == '.') {
        Py_ssize_t j = i + 1;
        skip_digits_(s, n, &j);
        if (exponent_then_end(s, n, j)) return 1;
    }
    /* [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* */
    i = after_int;
    if (sexagesimal_groups(s, n, &i) && i < n && s[i] == '.') {
        i++;
        skip_digits_(s, n, &i);
        return i == n;
    }
    return 0;
}

static int match_int(const char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    if (n >= 1 && (s[0] == '-' || s[0] == '+')) i = 1;
    if (i >= n || !is_digit(s[i])) return 0;
    if (s[i] == '0') {
        if (i + 1 == n) return 1; /* 0 */
        char c = s[i + 1];
        Py_ssize_t j = i + 2;
        if (c == 'b') { /* 0b[0-1_]+ */
            if (j >= n) return 0;
            for (; j < n; j++)
                if (s[j] != '0' && s[j] != '1' && s[j] != '_') return 0;
            return 1;
        }
        if (c == 'x') { /* 0x[0-9a-fA-F_]+ */
            if (j >= n) return 0;
            for (; j < n; j++)
                if (!isxdigit((unsigned char)s[j]) && s[j] != '_') return 0;
            return 1;
        }
        /* 0[0-7_]+ */
        for (j = i + 1; j < n; j++)
            if (!(s[j] >= '0' && s[j] <= '7') && s[j] != '_') return 0;
        return 1;
    }
    /* [1-9][0-9_]* and [1-9][0-9_]*(:[0-5]?[0-9])+ */
    i++;
    skip_digits_(s, n, &i);
    if (i == n) return 1;
    return sexagesimal_groups(s, n, &i) && i == n;
}

/* A value from the Python hook (floats, unusual ints, explicit tags); NULL with BadScalar
 * cleared into *bad (a message) when the text cannot be read as its tag. */
static PyObject *call_hook(const char *tag, PyObject *text, int plain, int quoted, int *is_merge,
                           PyObject **bad) {
    PyObject *pair = PyObject_CallFunction(scalar_hook, "sOii", tag, text, plain, quoted);
    if (pair == NULL) {
        if (PyErr_ExceptionMatches(BadScalar)) {
            PyObject *exc = PyErr_GetRaisedException();
            *bad = PyObject_Str(exc);
            Py_DECREF(exc);
            if (*bad == NULL) return NULL;
            return Py_NewRef(Py_None);
        }
        return NULL;
    }
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        Py_DECREF(pair);
        PyErr_SetString(PyExc_TypeError, "the scalar hook must return (tag, value)");
        return NULL;
    }
    *is_merge = PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(pair, 0), MERGE_TAG) == 0;
    PyObject *value = Py_NewRef(PyTuple_GET_ITEM(pair, 1));
    Py_DECREF(pair);
    return value;
}

static int equals(const char *s, Py_ssize_t n, const char *word) {
    size_t len = strlen(word);
    return (size_t)n == len && memcmp(s, word, len) == 0;
}

/* The value of a plain, untagged scalar. *cacheable: the result depends on the text alone. */
static PyObject *resolve_plain(const char *s, Py_ssize_t n, int *is_merge, int *cacheable,
                               PyObject **bad) {
    *cacheable = 1;
    if (n == 0) return Py_NewRef(Py_None);
    switch (s[0]) {
    case 'y': case 'Y': case 'n': case 'N': case 't': case 'T':
    case 'f': case 'F': case 'o': case 'O':
        if (equals(s, n, "yes") || equals(s, n, "Yes") || equals(s, n, "YES") ||
            equals(s, n, "true") || equals(s, n, "True") || equals(s, n, "TRUE") ||
            equals(s, n, "on") || equals(s, n, "On") || equals(s, n, "ON"))
            return Py_NewRef(Py_True);
        if (equals(s, n, "no") || equals(s, n, "No") || equals(s, n, "NO") ||
            equals(s, n, "false") || equals(s, n, "False") || equals(s, n, "FALSE") ||
            equals(s, n, "off") || equals(s, n, "Off") || equals(s, n, "OFF"))
            return Py_NewRef(Py_False);
        if (equals(s, n, "null") || equals(s, n, "Null") || equals(s, n, "NULL"))
            return Py_NewRef(Py_None);
        break;
    case '~':
        if (n == 1) return Py_NewRef(Py_None);
        break;
    case '<':
        if (n == 2 && s[1] == '<') *is_merge = 1; /* as a value, '<<' stays the text */
        break;
    case '-': case '+': case '.':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': {
        int is_float = match_float(s, n);
        if (is_float || match_int(s, n)) {
            /* Plain decimals (ports, replicas) are read here; everything else (floats, 0x,
             * 0b, octal, 1_000, 1:30) by the same Python code the other reader uses. */
            if (!is_float) {
                Py_ssize_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
                int simple = n - i <= 18 && (s[i] != '0' || n - i == 1);
                for (Py_ssize_t j = i; simple && j < n; j++) simple = is_digit(s[j]);
                if (simple) {
                    long long v = 0;
                    for (Py_ssize_t j = i; j < n; j++) v = v * 10 + (s[j] - '0');
                    return PyLong_FromLongLong(s[0] == '-' ? -v : v);
                }
            }
            *cacheable = !is_float;
            PyObject *text = PyUnicode_DecodeUTF8(s, n, "strict");
            if (text == NULL) return NULL;
            int merge = 0;
            PyObject *v = call_hook(is_float ? FLOAT_TAG : INT_TAG, text, 0, 0, &merge, bad);
            Py_DECREF(text);
            if (*bad != NULL) *cacheable = 0;
            return v;
        }
        break;
    }
    default:
        break;
    }
    /* A string; timestamps and '=' resolve to tags whose value is the text as well. */
    return PyUnicode_DecodeUTF8(s, n, "strict");
}

/* ---- the builder -------------------------------------------------------------------------- */
typedef struct {
    PyObject *obj; /* the built value (NULL while its collection is open) */
    long line;
    long long size;
    int kind;
    int is_merge;
    int open;
} Anchor;

typedef struct {
    int kind;
    int nesting;    /* what it adds to libyaml's nesting count: NEST_FLOW, NEST_BLOCK or 0 */
    long column;
    int merge_list; /* a sequence that is the value of '<<': its items are merged */
    PyObject *obj;  /* LineDict / LineList */
    PyObject *lines;
    long line;
    long depth;
    long long size;
    Py_ssize_t anchor;
    int want_value;
    int key_mode;
    PyObject *key;
    long key_line;
    PyObject *merged; /* a set of the keys '<<' brought that no written key replaced; NULL
                       * until a merge brings one */
} Frame;

typedef struct {
    yaml_parser_t parser;
    Frame *frames;
    Py_ssize_t nframes, frames_cap;
    Anchor *anchors;
    Py_ssize_t nanchors, anchors_cap;
    PyObject *anchor_index; /* anchor name (bytes) -> index in anchors */
    PyObject *docs;
    PyObject *root;
    long root_line;
    long long root_size;
    int doc_has_alias;
    PyObject *doc_error; /* first build error of this document: message */
    long doc_error_line;
    PyObject *error; /* the error of the first document that had one */
    long error_line;
    PyObject **line_objs;
    Py_ssize_t line_objs_cap;
    long flow_level, block_level;
} State;

/* libyaml 0.2.6 (the one in PyYAML's wheels, behind the other reader) refuses, in its scanner,
 * more than 1,000 levels of flow collections and block indents together (999 for a new block
 * level); Debian's 0.2.5 has no limit and slows down quadratically with depth. The same limits
 * here, with the same messages. */
#define MAX_NESTING 1000
enum { NEST_FLOW = 1, NEST_BLOCK = 2 };

static PyObject *line_obj(State *st, long line) {
    if (line < 0) line = 0;
    if (line >= st->line_objs_cap) {
        Py_ssize_t cap = st->line_objs_cap ? st->line_objs_cap : 1024;
        while (cap <= line) cap *= 2;
        PyObject **grown = PyMem_Realloc(st->line_objs, cap * sizeof(PyObject *));
        if (grown == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        memset(grown + st->line_objs_cap, 0, (cap - st->line_objs_cap) * sizeof(PyObject *));
        st->line_objs = grown;
        st->line_objs_cap = cap;
    }
    if (st->line_objs[line] == NULL) {
        st->line_objs[line] = PyLong_FromLong(line);
        if (st->line_objs[line] == NULL) return NULL;
    }
    return st->line_objs[line]; /* borrowed */
}

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* Records a build error unless this document already has one (the first one wins). */
static int build_error(State *st, long line, PyObject *message) {
    if (message == NULL) return -1;
    if (st->doc_error == NULL) {
        st->doc_error = message;
        st->doc_error_line = line;
    } else {
        Py_DECREF(message);
    }
    return 0;
}

static int build_error_s(State *st, long line, const char *message) {
    return build_error(st, line, PyUnicode_FromString(message));
}

static int raise_located(const char *message, PyObject *message_obj, long line) {
    PyObject *msg = message_obj ? message_obj : PyUnicode_FromString(message);
    if (msg == NULL) return -1;
    PyObject *exc = PyObject_CallFunction(YamlError, "Nl", msg, line);
    if (exc != NULL) {
        PyErr_SetObject(YamlError, exc);
        Py_DECREF(exc);
    }
    return -1;
}

static int raise_parser_error(yaml_parser_t *p) {
    if (p->error == YAML_MEMORY_ERROR) {
        PyErr_NoMemory();
        return -1;
    }
    if (p->error == YAML_READER_ERROR) {
        /* PyYAML's ReaderError, as str() formats it */
        PyObject *fmt = PyUnicode_FromString(
            "invalid YAML: unacceptable character #x%04x: %s\n  in \"%s\", position %d");
        if (fmt == NULL) return -1;
        PyObject *args = Py_BuildValue("(issn)", p->problem_value, p->problem ? p->problem : "",
                                       "<unicode string>", (Py_ssize_t)p->problem_offset);
        if (args == NULL) {
            Py_DECREF(fmt);
            return -1;
        }
        PyObject *text = PyUnicode_Format(fmt, args);
        Py_DECREF(fmt);
        Py_DECREF(args);
        if (text == NULL) return -1;
        return raise_located(NULL, text, 1);
    }
    if (p->error == YAML_SCANNER_ERROR || p->error == YAML_PARSER_ERROR) {
        long line = (long)(p->problem ? p->problem_mark.line : p->context_mark.line) + 1;
        PyObject *text;
        if (p->context)
            text = PyUnicode_FromFormat("invalid YAML: %s: %s", p->context,
                                        p->problem ? p->problem : "");
        else
            text = PyUnicode_FromFormat("invalid YAML: %s", p->problem ? p->problem : "");
        if (text == NULL) return -1;
        return raise_located(NULL, text, line);
    }
    PyErr_SetString(PyExc_ValueError, "no parser error");
    return -1;
}

static PyObject *new_collection(int kind, long line, State *st, PyObject **lines) {
    PyObject *obj, *ln;
    if (kind == K_MAP) {
        obj = PyDict_Type.tp_new(LineDict_T, empty_tuple, NULL);
        if (obj == NULL) return NULL;
        *lines = PyDict_New();
    } else {
        obj = PyList_Type.tp_new(LineList_T, empty_tuple, NULL);
        if (obj == NULL) return NULL;
        *lines = PyList_New(0);
    }
    ln = line_obj(st, line);
    if (*lines == NULL || ln == NULL) {
        Py_XDECREF(*lines);
        Py_DECREF(obj);
        return NULL;
    }
    Py_ssize_t line_off = kind == K_MAP ? dict_line_off : list_line_off;
    Py_ssize_t lines_off = kind == K_MAP ? dict_lines_off : list_lines_off;
    Py_XSETREF(SLOT(obj, line_off), Py_NewRef(ln));
    Py_XSETREF(SLOT(obj, lines_off), Py_NewRef(*lines));
    Py_DECREF(*lines); /* the object holds it; the frame borrows */
    return obj;
}

/* '<<': copies the keys of `src` (a LineDict) that `dst` lacks, with their lines. Keys it
 * already has (written, or merged from an earlier map of `<<: [*a, *b]`) win. */
static int merge_into(State *st, Frame *dst, PyObject *src) {
    PyObject *src_lines = NULL;
    if (PyObject_TypeCheck(src, LineDict_T)) src_lines = SLOT(src, dict_lines_off);
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(src, &pos, &k, &v)) {
        int has = PyDict_Contains(dst->obj, k);
        if (has < 0) return -1;
        if (has) continue;
        PyObject *ln = src_lines ? PyDict_GetItemWithError(src_lines, k) : NULL;
        if (ln == NULL) {
            if (PyErr_Occurred()) return -1;
            ln = line_obj(st, dst->line);
            if (ln == NULL) return -1;
        }
        if (PyDict_SetItem(dst->obj, k, v) < 0 || PyDict_SetItem(dst->lines, k, ln) < 0)
            return -1;
        if (dst->merged == NULL && (dst->merged = PySet_New(NULL)) == NULL) return -1;
        if (PySet_Add(dst->merged, k) < 0) return -1;
    }
    return 0;
}

static int merge_source(State *st, Frame *dst, PyObject *src, long line) {
    if (!PyDict_Check(src)) return build_error_s(st, line, "'<<' merges mappings only");
    return merge_into(st, dst, src);
}

/* Hands a finished node to the collection it belongs to, or makes it the document's root.
 * `value` is borrowed; `line` is the node's own line (an alias: its anchor's). */
static int attach(State *st, PyObject *value, long line, long long size, int kind, int is_merge,
                  int via_alias, int recursive) {
    if (st->nframes == 0) {
        Py_XSETREF(st->root, Py_NewRef(value));
        st->root_line = line;
        st->root_size = size;
        return 0;
    }
    Frame *f = &st->frames[st->nframes - 1];
    f->size += size;
    if (f->kind == K_SEQ) {
        PyObject *ln = line_obj(st, line);
        if (ln == NULL) return -1;
        if (recursive) {
            if (build_error_s(st, line, "a YAML alias refers to its own parent (recursive)") < 0)
                return -1;
            value = Py_None;
        }
        if (PyList_Append(f->obj, value) < 0 || PyList_Append(f->lines, ln) < 0) return -1;
        if (f->merge_list && !recursive) return merge_source(st, f - 1, value, line);
        return 0;
    }
    if (!f->want_value) { /* a key */
        f->want_value = 1;
        f->key_mode = KEY_NORMAL;
        if (is_merge) {
            f->key_mode = KEY_MERGE;
            return 0;
        }
        if (kind != K_SCALAR) {
            f->key_mode = KEY_IGNORE;
            /* a collection written in place reported this when it started */
            return via_alias ? build_error_s(st, line, "a mapping key must be a plain value") : 0;
        }
        int has = PyDict_Contains(f->obj, value);
        if (has < 0) return -1;
        if (has) {
            /* YAML 1.1's merge: a key written in the mapping wins over a merged one, wherever
             * the '<<' stands; two written keys stay a duplicate. */
            int merged = f->merged ? PySet_Discard(f->merged, value) : 0;
            if (merged < 0) return -1;
            if (!merged) {
                f->key_mode = KEY_IGNORE;
                return build_error(st, line, PyUnicode_FromFormat("duplicate key %R", value));
            }
        }
        Py_XSETREF(f->key, Py_NewRef(value));
        f->key_line = line;
        return 0;
    }
    /* a value */
    f->want_value = 0;
    int mode = f->key_mode;
    f->key_mode = KEY_NORMAL;
    if (mode == KEY_IGNORE) return 0;
    if (recursive)
        return build_error_s(st, line, "a YAML alias refers to its own parent (recursive)");
    if (mode == KEY_MERGE) {
        if (kind == K_SEQ) {
            if (!via_alias) return 0; /* written in place: merged item by item already */
            PyObject *items = value, *lines = SLOT(value, list_lines_off);
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
                long item_line = PyLong_AsLong(PyList_GET_ITEM(lines, i));
                PyObject *item = PyList_GET_ITEM(items, i);
                if (!PyDict_Check(item))
                    return build_error_s(st, item_line, "'<<' merges mappings only");
                if (merge_into(st, f, item) < 0) return -1;
            }
            return 0;
        }
        return merge_source(st, f, value, line);
    }
    PyObject *ln = line_obj(st, f->key_line);
    if (ln == NULL) return -1;
    int rc = 0;
    if (PyDict_SetItem(f->obj, f->key, value) < 0 || PyDict_SetItem(f->lines, f->key, ln) < 0)
        rc = -1;
    Py_CLEAR(f->key);
    return rc;
}

static Py_ssize_t find_anchor(State *st, const yaml_char_t *name) {
    PyObject *key = PyBytes_FromString((const char *)name);
    if (key == NULL) return -2;
    PyObject *idx = PyDict_GetItemWithError(st->anchor_index, key);
    Py_DECREF(key);
    if (idx == NULL) return PyErr_Occurred() ? -2 : -1;
    return PyLong_AsSsize_t(idx);
}

/* A new anchor (the composer's check: a name defined twice in a document is an error). */
static Py_ssize_t add_anchor(State *st, const yaml_char_t *name, long line, int kind) {
    Py_ssize_t found = find_anchor(st, name);
    if (found == -2) return -2;
    if (found >= 0) {
        raise_located("invalid YAML: found duplicate anchor; first occurrence: second occurrence",
                      NULL, line);
        return -2;
    }
    if (st->nanchors == st->anchors_cap) {
        Py_ssize_t cap = st->anchors_cap ? st->anchors_cap * 2 : 16;
        Anchor *grown = PyMem_Realloc(st->anchors, cap * sizeof(Anchor));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -2;
        }
        st->anchors = grown;
        st->anchors_cap = cap;
    }
    Py_ssize_t i = st->nanchors++;
    st->anchors[i] = (Anchor){NULL, line, 1, kind, 0, 1};
    PyObject *key = PyBytes_FromString((const char *)name);
    PyObject *idx = PyLong_FromSsize_t(i);
    int rc = (key && idx) ? PyDict_SetItem(st->anchor_index, key, idx) : -1;
    Py_XDECREF(key);
    Py_XDECREF(idx);
    return rc < 0 ? -2 : i;
}

static void clear_anchors(State *st) {
    for (Py_ssize_t i = 0; i < st->nanchors; i++) Py_CLEAR(st->anchors[i].obj);
    st->nanchors = 0;
    PyDict_Clear(st->anchor_index);
}

static inline int is_merge_tag(const yaml_char_t *tag) {
    return tag != NULL && strcmp((const char *)tag, MERGE_TAG) == 0;
}

static int on_scalar(State *st, yaml_event_t *ev) {
    long line = (long)ev->start_mark.line + 1;
    const char *s = (const char *)ev->data.scalar.value;
    Py_ssize_t n = (Py_ssize_t)ev->data.scalar.length;
    const yaml_char_t *tag = ev->data.scalar.tag;
    Py_ssize_t anchor = -1;
    if (ev->data.scalar.anchor) {
        anchor = add_anchor(st, ev->data.scalar.anchor, line, K_SCALAR);
        if (anchor == -2) return -1;
    }
    PyObject *value = NULL, *bad = NULL;
    int is_merge = 0;
    if (tag == NULL) {
        int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        CacheSlot *table = plain ? plain_cache : quoted_cache;
        CacheSlot *slot = NULL;
        int hit = 0;
        if (n <= CACHE_MAX_LEN) {
            slot = cache_find(table, s, n, &hit);
            if (hit) value = Py_NewRef(slot->value);
        }
        if (value == NULL) {
            int cacheable = 1;
            if (plain)
                value = resolve_plain(s, n, &is_merge, &cacheable, &bad);
            else
                value = PyUnicode_DecodeUTF8(s, n, "strict");
            if (value == NULL) return -1;
            /* '<<' is never cached: it is a merge key, not just its text */
            if (slot != NULL && cacheable && !is_merge) cache_store(slot, s, n, value);
        }
    } else {
        PyObject *text = PyUnicode_DecodeUTF8(s, n, "strict");
        if (text == NULL) return -1;
        value = call_hook((const char *)tag, text, ev->data.scalar.plain_implicit,
                          ev->data.scalar.quoted_implicit, &is_merge, &bad);
        Py_DECREF(text);
        if (value == NULL) return -1;
    }
    if (bad != NULL && build_error(st, line, bad) < 0) {
        Py_DECREF(value);
        return -1;
    }
    if (anchor >= 0) {
        st->anchors[anchor].obj = Py_NewRef(value);
        st->anchors[anchor].is_merge = is_merge;
        st->anchors[anchor].open = 0;
    }
    int rc = attach(st, value, line, 1, K_SCALAR, is_merge, 0, 0);
    Py_DECREF(value);
    return rc;
}

static int on_alias(State *st, yaml_event_t *ev) {
    long line = (long)ev->start_mark.line + 1;
    Py_ssize_t i = find_anchor(st, ev->data.alias.anchor);
    if (i == -2) return -1;
    if (i == -1) return raise_located("invalid YAML: found undefined alias", NULL, line);
    Anchor a = st->anchors[i];
    if (a.kind != K_SCALAR) st->doc_has_alias = 1; /* only reused collections can expand */
    if (a.open) return attach(st, Py_None, a.line, 1, a.kind, a.is_merge, 1, 1);
    return attach(st, a.obj, a.line, a.size, a.kind, a.is_merge, 1, 0);
}

static int on_start(State *st, yaml_event_t *ev, int kind) {
    long line = (long)ev->start_mark.line + 1;
    const yaml_char_t *anchor_name, *tag;
    if (kind == K_MAP) {
        anchor_name = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    } else {
        anchor_name = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    }
    int flow = kind == K_MAP ? ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
                             : ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
    long column = (long)ev->start_mark.column;
    int nesting = flow ? NEST_FLOW : NEST_BLOCK;
    if (!flow && kind == K_SEQ && st->nframes > 0) {
        /* An indentless sequence (`key:` then `- item` at the key's column) adds no indent. */
        Frame *parent = &st->frames[st->nframes - 1];
        if (parent->kind == K_MAP && parent->nesting == NEST_BLOCK && parent->column == column)
            nesting = 0;
    }
    if (nesting == NEST_FLOW && st->block_level + st->flow_level + 1 > MAX_NESTING)
        return raise_located(
            "invalid YAML: while increasing flow level: exceeded maximum nesting depth", NULL, line);
    if (nesting == NEST_BLOCK && st->block_level + 1 >= MAX_NESTING)
        return raise_located(
            "invalid YAML: while increasing block level: exceeded maximum nesting depth", NULL,
            line);
    Py_ssize_t anchor = -1;
    if (anchor_name) {
        anchor = add_anchor(st, anchor_name, line, kind);
        if (anchor == -2) return -1;
        st->anchors[anchor].is_merge = is_merge_tag(tag);
    }
    long depth = 0;
    int merge_list = 0;
    if (st->nframes > 0) {
        Frame *parent = &st->frames[st->nframes - 1];
        if (parent->kind == K_SEQ) {
            depth = parent->merge_list ? parent->depth : parent->depth + 1;
        } else if (!parent->want_value) {
            depth = parent->depth + 1;
            /* The Python reader stops at such a key before it reads what is inside. */
            if (!is_merge_tag(tag) &&
                build_error_s(st, line, "a mapping key must be a plain value") < 0)
                return -1;
        } else {
            depth = parent->depth + 1;
            merge_list = kind == K_SEQ && parent->key_mode == KEY_MERGE;
        }
    }
    if (!merge_list && depth > max_depth) {
        PyObject *msg = PyUnicode_FromFormat("the document is nested deeper than %ld levels",
                                             max_depth);
        if (build_error(st, line, msg) < 0) return -1;
    }
    if (st->nframes == st->frames_cap) {
        Py_ssize_t cap = st->frames_cap ? st->frames_cap * 2 : 64;
        Frame *grown = PyMem_Realloc(st->frames, cap * sizeof(Frame));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        st->frames = grown;
        st->frames_cap = cap;
    }
    PyObject *lines;
    PyObject *obj = new_collection(kind, line, st, &lines);
    if (obj == NULL) return -1;
    st->frames[st->nframes++] = (Frame){
        kind, nesting, column, merge_list, obj, lines, line, depth, 1, anchor, 0, KEY_NORMAL, NULL,
        0, NULL};
    if (nesting == NEST_FLOW) st->flow_level++;
    if (nesting == NEST_BLOCK) st->block_level++;
    return 0;
}

static int on_end(State *st) {
    Frame f = st->frames[--st->nframes];
    Py_CLEAR(f.key);
    Py_CLEAR(f.merged);
    if (f.nesting == NEST_FLOW) st->flow_level--;
    if (f.nesting == NEST_BLOCK) st->block_level--;
    long long size = f.size > max_expanded ? max_expanded + 1 : f.size;
    int is_merge = 0;
    if (f.anchor >= 0) {
        Anchor *a = &st->anchors[f.anchor];
        a->obj = Py_NewRef(f.obj);
        a->size = size;
        a->open = 0;
        is_merge = a->is_merge;
    }
    int rc = attach(st, f.obj, f.line, size, f.kind, is_merge, 0, 0);
    Py_DECREF(f.obj);
    return rc;
}

static int on_document_end(State *st) {
    if (st->root != NULL) {
        if (st->doc_has_alias && st->root_size > max_expanded) {
            PyObject *msg = PyUnicode_FromString(
                "YAML aliases expand to more than a million values (an alias bomb?)");
            if (msg == NULL) return -1;
            Py_XSETREF(st->doc_error, msg);
            st->doc_error_line = st->root_line;
        }
        PyObject *doc = Py_BuildValue("(Ol)", st->root, st->root_line);
        if (doc == NULL || PyList_Append(st->docs, doc) < 0) {
            Py_XDECREF(doc);
            return -1;
        }
        Py_DECREF(doc);
    }
    if (st->error == NULL && st->doc_error != NULL) {
        st->error = st->doc_error;
        st->error_line = st->doc_error_line;
        st->doc_error = NULL;
    }
    Py_CLEAR(st->doc_error);
    Py_CLEAR(st->root);
    clear_anchors(st);
    return 0;
}

static void state_free(State *st) {
    while (st->nframes > 0) {
        Frame *f = &st->frames[--st->nframes];
        Py_XDECREF(f->key);
        Py_XDECREF(f->merged);
        Py_XDECREF(f->obj);
    }
    PyMem_Free(st->frames);
    clear_anchors(st);
    PyMem_Free(st->anchors);
    Py_XDECREF(st->anchor_index);
    Py_XDECREF(st->root);
    Py_XDECREF(st->doc_error);
    Py_XDECREF(st->error);
    for (Py_ssize_t i = 0; i < st->line_objs_cap; i++) Py_XDECREF(st->line_objs[i]);
    PyMem_Free(st->line_objs);
    yaml_parser_delete(&st->parser);
}

static PyObject *parse(PyObject *module, PyObject *text) {
    if (LineDict_T == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_fastyaml.configure() was not called");
        return NULL;
    }
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "parse() takes a str");
        return NULL;
    }
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    if (utf8 == NULL) return NULL;
    State st;
    memset(&st, 0, sizeof st);
    if (!yaml_parser_initialize(&st.parser)) return PyErr_NoMemory();
    yaml_parser_set_input_string(&st.parser, (const unsigned char *)utf8, (size_t)size);
    st.anchor_index = PyDict_New();
    st.docs = PyList_New(0);
    if (st.anchor_index == NULL || st.docs == NULL) goto fail;
    for (int done = 0; !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&st.parser, &ev)) {
            raise_parser_error(&st.parser);
            goto fail;
        }
        int rc = 0;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            st.doc_has_alias = 0;
            break;
        case YAML_DOCUMENT_END_EVENT:
            rc = on_document_end(&st);
            break;
        case YAML_ALIAS_EVENT:
            rc = on_alias(&st, &ev);
            break;
        case YAML_SCALAR_EVENT:
            rc = on_scalar(&st, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = on_start(&st, &ev, K_SEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = on_start(&st, &ev, K_MAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            rc = on_end(&st);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (rc < 0) goto fail;
    }
    if (st.error != NULL) {
        raise_located(NULL, Py_NewRef(st.error), st.error_line);
        goto fail;
    }
    PyObject *docs = st.docs;
    st.docs = NULL;
    state_free(&st);
    return docs;
fail:
    Py_XDECREF(st.docs);
    state_free(&st);
    return NULL;
}

static int slot_offset(PyTypeObject *type, const char *name, Py_ssize_t *offset) {
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL) return -1;
    int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
             ((PyMemberDescrObject *)descr)->d_member->type == Py_T_OBJECT_EX;
    if (ok) *offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    Py_DECREF(descr);
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s.%s must be a __slots__ member", type->tp_name, name);
        return -1;
    }
    return 0;
}

static PyObject *configure(PyObject *module, PyObject *args) {
    PyTypeObject *ld, *ll;
    PyObject *hook, *bad, *err;
    long depth;
    long long expanded;
    if (!PyArg_ParseTuple(args, "O!O!OOOlL", &PyType_Type, &ld, &PyType_Type, &ll, &hook, &bad,
                          &err, &depth, &expanded))
        return NULL;
    if (!PyType_IsSubtype(ld, &PyDict_Type) || !PyType_IsSubtype(ll, &PyList_Type)) {
        PyErr_SetString(PyExc_TypeError, "configure() takes a dict and a list subclass");
        return NULL;
    }
    if (slot_offset(ld, "line", &dict_line_off) < 0 ||
        slot_offset(ld, "lines", &dict_lines_off) < 0 ||
        slot_offset(ll, "line", &list_line_off) < 0 ||
        slot_offset(ll, "lines", &list_lines_off) < 0)
        return NULL;
    Py_XSETREF(LineDict_T, (PyTypeObject *)Py_NewRef(ld));
    Py_XSETREF(LineList_T, (PyTypeObject *)Py_NewRef(ll));
    Py_XSETREF(scalar_hook, Py_NewRef(hook));
    Py_XSETREF(BadScalar, Py_NewRef(bad));
    Py_XSETREF(YamlError, Py_NewRef(err));
    max_depth = depth;
    max_expanded = expanded;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        Py_CLEAR(plain_cache[i].value);
        Py_CLEAR(quoted_cache[i].value);
    }
    Py_RETURN_NONE;
}

/* libyaml alone: the events of `text`, counted and dropped (what the profile calls libyaml). */
static PyObject *count_events(PyObject *module, PyObject *text) {
    Py_ssize_t size, count = 0;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    if (utf8 == NULL) return NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return PyErr_NoMemory();
    yaml_parser_set_input_string(&parser, (const unsigned char *)utf8, (size_t)size);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            raise_parser_error(&parser);
            yaml_parser_delete(&parser);
            return NULL;
        }
        int end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        count++;
        if (end) break;
    }
    yaml_parser_delete(&parser);
    return PyLong_FromSsize_t(count);
}

static PyObject *libyaml_version(PyObject *module, PyObject *unused) {
    return PyUnicode_FromString(yaml_get_version_string());
}

static PyMethodDef methods[] = {
    {"parse", parse, METH_O,
     "parse(text) -> [(value, line)] per document; raises the configured error (message, line)"},
    {"configure", configure, METH_VARARGS,
     "configure(LineDict, LineList, scalar_hook, BadScalar, Error, max_depth, max_expanded)"},
    {"libyaml_version", libyaml_version, METH_NOARGS, "the libyaml this module was built with"},
    {"count_events", count_events, METH_O, "libyaml alone: how many events `text` makes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_fastyaml", "libyaml events to yamlio's line-tracked values", -1,
    methods,
};

PyMODINIT_FUNC PyInit__fastyaml(void) {
    empty_tuple = PyTuple_New(0);
    if (empty_tuple == NULL) return NULL;
    return PyModule_Create(&module_def);
}
