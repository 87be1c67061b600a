/*
 * Compiled helpers for the AMI framer and messages (connector.ami._speedups).
 *
 * Optional: connector/ami/accel.py falls back to the pure Python code when
 * this module is not built, and the tests check that both give the same
 * messages. Built by bin/build-speedups (bin/setup-env runs it).
 *
 * frame(data, end, limit, cls) turns data[:end], a run of complete CRLF
 * messages, into instances of cls (a subclass of MessageBase) with their
 * headers already split out. It returns None, having changed nothing, for
 * anything that is not plain well-formed CRLF messages (a bare LF, a blank
 * line run, junk, an old "Response: Follows" reply, a block larger than
 * limit bytes): the Python framer's careful loop handles those.
 *
 * MessageBase.get(key, default) is Message.get for split messages: a dict
 * lookup, then the case-insensitive one (fold_get) when the exact key is
 * missing. Unsplit text and Unicode case rules go to Message's Python code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

/* ---- MessageBase: the storage of connector.ami.message.Message ---- */

typedef struct {
    PyObject_HEAD
    PyObject *raw;      /* the message text while its headers are not split out, else NULL */
    PyObject *headers;  /* dict: first value per key, in wire order */
    PyObject *repeated; /* list of (key, value) for later values of a key, or NULL */
    PyObject *body;     /* list of lines that are not headers, or NULL */
    PyObject *banner;
    PyObject *lowered;  /* the pure Python text search's lower-cased copy */
    PyObject *folded;   /* the pure Python lower-cased key map */
} MessageBase;

static int
mb_traverse(MessageBase *self, visitproc visit, void *arg)
{
    Py_VISIT(self->raw);
    Py_VISIT(self->headers);
    Py_VISIT(self->repeated);
    Py_VISIT(self->body);
    Py_VISIT(self->banner);
    Py_VISIT(self->lowered);
    Py_VISIT(self->folded);
    return 0;
}

static int
mb_clear(MessageBase *self)
{
    Py_CLEAR(self->raw);
    Py_CLEAR(self->headers);
    Py_CLEAR(self->repeated);
    Py_CLEAR(self->body);
    Py_CLEAR(self->banner);
    Py_CLEAR(self->lowered);
    Py_CLEAR(self->folded);
    return 0;
}

static void
mb_dealloc(MessageBase *self)
{
    PyObject_GC_UnTrack(self);
    mb_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* T_OBJECT: an unset field reads as None. */
static PyMemberDef mb_members[] = {
    {"_raw", T_OBJECT, offsetof(MessageBase, raw), 0, NULL},
    {"_headers", T_OBJECT, offsetof(MessageBase, headers), 0, NULL},
    {"_repeated", T_OBJECT, offsetof(MessageBase, repeated), 0, NULL},
    {"_body", T_OBJECT, offsetof(MessageBase, body), 0, NULL},
    {"banner", T_OBJECT, offsetof(MessageBase, banner), 0, NULL},
    {"_lowered", T_OBJECT, offsetof(MessageBase, lowered), 0, NULL},
    {"_folded", T_OBJECT, offsetof(MessageBase, folded), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyObject *mb_get(MessageBase *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames);

static PyMethodDef mb_methods[] = {
    {"get", (PyCFunction)(void (*)(void))mb_get, METH_FASTCALL | METH_KEYWORDS,
     "get(key, default=None): the first value of key; a case-insensitive match when the exact one is absent"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MessageBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "connector.ami._speedups.MessageBase",
    .tp_doc = "Storage of an AMI message (the fields Message works on).",
    .tp_basicsize = sizeof(MessageBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_traverse = (traverseproc)mb_traverse,
    .tp_clear = (inquiry)mb_clear,
    .tp_dealloc = (destructor)mb_dealloc,
    .tp_members = mb_members,
    .tp_methods = mb_methods,
};

/* ---- header keys: a few hundred distinct names, so each is made once ---- */

#define KEY_SLOTS 4096 /* open addressing, a power of two */
#define KEY_LIMIT 2048 /* at most this many kept, so a probe always ends */
#define KEY_MAX_LEN 64

static PyObject *key_table[KEY_SLOTS];
static Py_ssize_t key_count;

static PyObject *
ascii_str(const char *p, Py_ssize_t n)
{
    PyObject *s = PyUnicode_New(n, 127);
    if (s != NULL && n > 0)
        memcpy(PyUnicode_1BYTE_DATA(s), p, (size_t)n);
    return s;
}

static PyObject *
text(const char *p, Py_ssize_t n, int ascii)
{
    return ascii ? ascii_str(p, n) : PyUnicode_DecodeUTF8(p, n, "replace");
}

static PyObject *
key_str(const char *p, Py_ssize_t n, int ascii)
{
    if (!ascii || n == 0 || n > KEY_MAX_LEN)
        return text(p, n, ascii);
    uint32_t h = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    size_t slot = h & (KEY_SLOTS - 1);
    for (PyObject *k; (k = key_table[slot]) != NULL; slot = (slot + 1) & (KEY_SLOTS - 1)) {
        if (PyUnicode_GET_LENGTH(k) == n && memcmp(PyUnicode_1BYTE_DATA(k), p, (size_t)n) == 0) {
            Py_INCREF(k);
            return k;
        }
    }
    PyObject *s = ascii_str(p, n);
    if (s == NULL)
        return NULL;
    if (key_count < KEY_LIMIT) {
        if (PyObject_Hash(s) == -1) { /* computed once, kept in the str for every dict insert */
            Py_DECREF(s);
            return NULL;
        }
        Py_INCREF(s);
        key_table[slot] = s;
        key_count++;
    }
    return s;
}

/* ---- frame() ---- */

static int
starts_message(const char *b, Py_ssize_t n)
{
    if (n >= 7 && memcmp(b, "Event: ", 7) == 0)
        return 1;
    if (n >= 10 && memcmp(b, "Response: ", 10) == 0)
        return !(n >= 17 && memcmp(b + 10, "Follows", 7) == 0); /* old command output: not here */
    return n >= 8 && memcmp(b, "Action: ", 8) == 0;
}

/* Split one line "Key: value" into the dict. 0: done; 1: the line has no ": "; -1: error. */
static int
add_header(PyObject *headers, const char *line, Py_ssize_t n)
{
    unsigned char high = 0;
    Py_ssize_t colon = -1;
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == ':' && line[i + 1] == ' ') {
            colon = i;
            break;
        }
        high |= c;
    }
    if (colon < 0)
        return 1;
    const char *value = line + colon + 2;
    Py_ssize_t value_len = n - colon - 2;
    unsigned char value_high = 0;
    for (Py_ssize_t i = 0; i < value_len; i++)
        value_high |= (unsigned char)value[i];
    PyObject *key = key_str(line, colon, high < 0x80);
    if (key == NULL)
        return -1;
    /* A repeated key overwrites here, but the caller's count then sees it and keeps the text instead. */
    PyObject *val = text(value, value_len, value_high < 0x80);
    if (val == NULL) {
        Py_DECREF(key);
        return -1;
    }
    int rc = PyDict_SetItem(headers, key, val);
    Py_DECREF(key);
    Py_DECREF(val);
    return rc;
}

/* One message from the block b[0:n] (its lines, without the blank line). NULL on error. */
static PyObject *
make_message(PyTypeObject *cls, const char *b, Py_ssize_t n)
{
    PyObject *headers = PyDict_New();
    if (headers == NULL)
        return NULL;
    Py_ssize_t lines = 0;
    int plain = 1; /* every line is "Key: value" */
    const char *end = b + n;
    for (const char *line = b; plain;) {
        /* The caller checked that every LF follows a CR: lines end at "\r\n" or at the block end. */
        const char *lf = memchr(line, '\n', (size_t)(end - line));
        const char *cr = lf != NULL ? lf - 1 : end;
        lines++;
        int rc = add_header(headers, line, cr - line);
        if (rc < 0) {
            Py_DECREF(headers);
            return NULL;
        }
        if (rc > 0)
            plain = 0;
        if (lf == NULL)
            break;
        line = lf + 1;
    }
    MessageBase *message = (MessageBase *)cls->tp_alloc(cls, 0);
    if (message == NULL) {
        Py_DECREF(headers);
        return NULL;
    }
    if (plain && PyDict_GET_SIZE(headers) == lines) {
        message->headers = headers;
    } else {
        /* Repeated keys or lines without ": ": kept as text for Message's full parse. */
        Py_DECREF(headers);
        message->raw = PyUnicode_DecodeUTF8(b, n, "replace");
        if (message->raw == NULL) {
            Py_DECREF(message);
            return NULL;
        }
    }
    return (PyObject *)message;
}

static PyObject *
frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "frame(data, end, limit, cls) takes 4 arguments");
        return NULL;
    }
    Py_ssize_t end = PyLong_AsSsize_t(args[1]);
    if (end == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    if (!PyType_Check(args[3]) || !PyType_IsSubtype((PyTypeObject *)args[3], &MessageBaseType)) {
        PyErr_SetString(PyExc_TypeError, "frame(): cls must be a subclass of MessageBase");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[3];
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *result = NULL;
    if (end < 0 || end > view.len) {
        PyErr_SetString(PyExc_ValueError, "frame(): end is outside the data");
        goto done;
    }
    const char *p = view.buf;
    const char *stop = p + end;
    /* Plain CRLF messages only: every LF after a CR, and the run ends with a blank line. */
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(stop - q))) != NULL; q++) {
        if (q == p || q[-1] != '\r')
            goto careful;
    }
    if (end < 4 || memcmp(stop - 4, "\r\n\r\n", 4) != 0)
        goto careful;
    result = PyList_New(0);
    if (result == NULL)
        goto done;
    for (const char *block = p; block < stop;) {
        if (!starts_message(block, stop - block))
            goto careful;
        /* The block ends at the first blank line; the run ends with one, so this finds it. */
        const char *blank = block;
        for (;;) {
            const char *lf = memchr(blank, '\n', (size_t)(stop - blank));
            if (lf + 2 < stop && lf[1] == '\r' && lf[2] == '\n') {
                blank = lf - 1;
                break;
            }
            blank = lf + 1;
        }
        Py_ssize_t size = blank - block;
        if (size > limit)
            goto careful; /* the Python loop drops it and counts it */
        PyObject *message = make_message(cls, block, size);
        if (message == NULL || PyList_Append(result, message) < 0) {
            Py_XDECREF(message);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(message);
        block = blank + 4;
    }
    goto done;
careful:
    Py_XDECREF(result);
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&view);
    return result;
}

/* ---- case-insensitive lookup ---- */

/* The first value whose key equals key ignoring ASCII case, dflt if none, NotImplemented when a
 * key is not ASCII: a non-ASCII key may lower-case to an ASCII one (the Kelvin sign), so the
 * caller's str.lower() decides. Returns a new reference. */
static PyObject *
fold_lookup(PyObject *headers, PyObject *key, PyObject *dflt)
{
    if (!PyUnicode_Check(key) || !PyUnicode_IS_ASCII(key))
        return Py_NewRef(Py_NotImplemented);
    Py_ssize_t n = PyUnicode_GET_LENGTH(key);
    const unsigned char *want = PyUnicode_1BYTE_DATA(key);
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(headers, &pos, &k, &v)) {
        if (!PyUnicode_Check(k) || !PyUnicode_IS_ASCII(k))
            return Py_NewRef(Py_NotImplemented);
        if (PyUnicode_GET_LENGTH(k) != n)
            continue;
        const unsigned char *have = PyUnicode_1BYTE_DATA(k);
        Py_ssize_t i = 0;
        while (i < n) {
            unsigned char a = have[i], b = want[i];
            if (a != b && ((a | 0x20) != (b | 0x20) || (unsigned char)((a | 0x20) - 'a') > 'z' - 'a'))
                break;
            i++;
        }
        if (i == n)
            return Py_NewRef(v); /* the first spelling in wire order wins */
    }
    return Py_NewRef(dflt);
}

static PyObject *
fold_get(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "fold_get(headers: dict, key, default) takes 3 arguments");
        return NULL;
    }
    return fold_lookup(args[0], args[1], args[2]);
}

/* ---- MessageBase.get ---- */

static int enabled = 1;         /* set_enabled(False): get() answers through the pure Python code */
static PyObject *name_text_get; /* "_text_get": Message's get on unsplit text (and the pure path) */
static PyObject *name_fold;     /* "_pure_fold": Message's case-insensitive lookup by str.lower() */

static PyObject *
mb_get(MessageBase *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 1 || nargs + nkw > 2
        || (nkw == 1 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "default") != 0)) {
        PyErr_SetString(PyExc_TypeError, "get(key, default=None)");
        return NULL;
    }
    PyObject *key = args[0];
    PyObject *dflt = nargs + nkw == 2 ? args[1] : Py_None;
    PyObject *call[3] = {(PyObject *)self, key, dflt};
    if (!enabled || self->raw != NULL || self->headers == NULL || !PyDict_Check(self->headers))
        return PyObject_VectorcallMethod(name_text_get, call, 3, NULL);
    PyObject *value = PyDict_GetItemWithError(self->headers, key);
    if (value != NULL && value != Py_None)
        return Py_NewRef(value);
    if (PyErr_Occurred())
        return NULL;
    value = fold_lookup(self->headers, key, dflt);
    if (value != Py_NotImplemented)
        return value;
    Py_DECREF(value);
    return PyObject_VectorcallMethod(name_fold, call, 3, NULL);
}

static PyObject *
set_enabled(PyObject *module, PyObject *flag)
{
    (void)module;
    int on = PyObject_IsTrue(flag);
    if (on < 0)
        return NULL;
    enabled = on;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"frame", (PyCFunction)(void (*)(void))frame, METH_FASTCALL,
     "frame(data, end, limit, cls): messages of data[:end] with headers split, or None to take the careful path"},
    {"fold_get", (PyCFunction)(void (*)(void))fold_get, METH_FASTCALL,
     "fold_get(headers, key, default): case-insensitive lookup; NotImplemented when Unicode rules apply"},
    {"set_enabled", set_enabled, METH_O, "set_enabled(flag): False sends MessageBase.get to the pure Python code"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "connector.ami._speedups",
    .m_doc = "Compiled helpers for the AMI framer (optional; see connector/ami/accel.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    name_text_get = PyUnicode_InternFromString("_text_get");
    name_fold = PyUnicode_InternFromString("_pure_fold");
    if (name_text_get == NULL || name_fold == NULL || PyType_Ready(&MessageBaseType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    Py_INCREF(&MessageBaseType);
    if (PyModule_AddObject(module, "MessageBase", (PyObject *)&MessageBaseType) < 0) {
        Py_DECREF(&MessageBaseType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
