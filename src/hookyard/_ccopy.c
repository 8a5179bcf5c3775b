/* hookyard._ccopy: the boundary copier of _copy.py, in C (issue 17, figure C).
 *
 * The same algorithm and the same memo as _copy._make_copier, step for step, so that the
 * two give the same copies, the same sharing and the same errors:
 *
 * - immutable atoms (the ATOMS set handed to Copier) are returned as they are;
 * - the memo is the caller's dict, id(original) -> copy, each container registered
 *   *before* its contents are copied (shared references stay shared, cycles stay cycles);
 * - a dict or list is copied whole first (dict.copy, list.copy), then only its non-atom
 *   entries are replaced by their copies; a dict with a key that is not an atom is
 *   refilled in order from the original;
 * - a tuple or frozenset of atoms only is handed over as it is;
 * - anything else goes to `foreign(x, memo, depth)` (the Python side: host conveniences
 *   going in, refusals coming out), which may call back into this copier.
 *
 * Depth: `depth` counts the containers above a value; a container at depth >= max_nesting
 * raises `too_deep` (an explicit count: CPython 3.13.0 skips the recursion check on some
 * calls, issue 11). Py_EnterRecursiveCall guards the C stack as well.
 *
 * Every object read out of a container is held with a strong reference across anything
 * that may run Python code (the foreign callback, hashing, the garbage collector), so a
 * container changed while it is copied raises as Python's own iteration does and never
 * reads freed memory.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* bumped whenever the contract with _copy.py changes: a stale build is not used */
#define CCOPY_VERSION 1
/* sha256 of this file, given by hatch_build.py: a build of an older edit is not used */
#ifndef CCOPY_SOURCE
#define CCOPY_SOURCE ""
#endif

typedef struct {
    PyObject_HEAD
    PyObject *atoms;            /* frozenset of types handed over as they are */
    PyObject *foreign;          /* callable(x, memo, depth) for everything else */
    PyObject *too_deep;         /* exception type raised past max_nesting */
    PyObject *not_a_container;  /* returned by container() for other values */
    PyObject *keep_alive;       /* memo key of the list of temporaries kept alive */
    Py_ssize_t max_nesting;
    /* exact built-in types decided without a set lookup (checked against atoms) */
    char str_atom, int_atom, float_atom, none_atom, bool_atom, bytes_atom;
} Copier;

static PyObject *copy_value(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth);
static PyObject *copy_dict(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth,
                           PyObject *new, PyObject *key);
static PyObject *copy_list(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth,
                           PyObject *new, PyObject *key);
static PyObject *copy_tuple(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth);
static PyObject *copy_set(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth);

/* 1: an atom, 0: not, -1: error (hashing a type can run a metaclass's __hash__) */
static inline int
is_atom(Copier *c, PyTypeObject *t)
{
    if (t == &PyUnicode_Type) return c->str_atom;
    if (t == &PyLong_Type) return c->int_atom;
    if (t == &PyFloat_Type) return c->float_atom;
    if (t == Py_TYPE(Py_None)) return c->none_atom;
    if (t == &PyBool_Type) return c->bool_atom;
    if (t == &PyBytes_Type) return c->bytes_atom;
    /* never atoms (Copier_new refuses atoms that hold them): no set lookup */
    if (t == &PyDict_Type || t == &PyList_Type || t == &PyTuple_Type) return 0;
    return PySet_Contains(c->atoms, (PyObject *)t);
}

/* memo.get(id(x)), None counting as absent (as `if done is not None` does):
 * a new reference, or NULL with no error set when absent, NULL with an error on failure.
 * With `keyout`, the key id(x) is handed back (a new reference) when x is absent, for the
 * memo_set that follows. */
static PyObject *
memo_lookup(PyObject *memo, PyObject *x, PyObject **keyout)
{
    PyObject *key = PyLong_FromVoidPtr(x);
    if (key == NULL) return NULL;
    PyObject *done = PyDict_GetItemWithError(memo, key);
    if (done == NULL || done == Py_None) {
        if (keyout != NULL && !PyErr_Occurred()) *keyout = key;
        else Py_DECREF(key);
        return NULL;
    }
    Py_DECREF(key);
    return Py_NewRef(done);
}

static inline PyObject *
memo_get(PyObject *memo, PyObject *x)
{
    return memo_lookup(memo, x, NULL);
}

/* memo[id(x)] = copy; steals `key` (id(x)) when given */
static int
memo_set(PyObject *memo, PyObject *x, PyObject *copy, PyObject *key)
{
    if (key == NULL) {
        key = PyLong_FromVoidPtr(x);
        if (key == NULL) return -1;
    }
    int rc = PyDict_SetItem(memo, key, copy);
    Py_DECREF(key);
    return rc;
}

static PyObject *
too_deep(Copier *c)
{
    PyErr_SetNone(c->too_deep);
    return NULL;
}

/* A container copier's start: the nesting bound, `*new` made by `shallow(x)` when NULL,
 * registered in the memo (steals `key`), the C stack checked. 0, or -1 with an error set
 * and `*new` released. */
static int
enter_container(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth, PyObject **new,
                PyObject *key, PyObject *(*shallow)(PyObject *))
{
    if (depth >= c->max_nesting) {
        Py_CLEAR(*new);
        Py_XDECREF(key);
        too_deep(c);
        return -1;
    }
    if (*new == NULL) {
        *new = shallow(x);
        if (*new == NULL) {
            Py_XDECREF(key);
            return -1;
        }
    }
    if (memo_set(memo, x, *new, key) < 0 ||
        Py_EnterRecursiveCall(" while copying a value across the boundary")) {
        Py_CLEAR(*new);
        return -1;
    }
    return 0;
}

static PyObject *
list_copy(PyObject *x)
{
    return PyList_GetSlice(x, 0, PyList_GET_SIZE(x));
}

/* the copy of a value found inside a dict or list: memo, then the container copiers */
static PyObject *
copy_entry(Copier *c, PyObject *value, PyObject *memo, Py_ssize_t depth)
{
    PyObject *key = NULL;
    PyObject *done = memo_lookup(memo, value, &key);
    if (done != NULL || key == NULL) return done;
    PyTypeObject *t = Py_TYPE(value);
    if (t == &PyDict_Type) return copy_dict(c, value, memo, depth, NULL, key);
    if (t == &PyList_Type) return copy_list(c, value, memo, depth, NULL, key);
    Py_DECREF(key);
    return copy_value(c, value, memo, depth);
}

static PyObject *
call_foreign(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth)
{
    PyObject *level = PyLong_FromSsize_t(depth);
    if (level == NULL) return NULL;
    PyObject *args[3] = {x, memo, level};
    PyObject *result = PyObject_Vectorcall(c->foreign, args, 3, NULL);
    Py_DECREF(level);
    return result;
}

static PyObject *
copy_value(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth)
{
    PyTypeObject *t = Py_TYPE(x);
    int atom = is_atom(c, t);
    if (atom < 0) return NULL;
    if (atom) return Py_NewRef(x);
    PyObject *key = NULL;
    PyObject *done = memo_lookup(memo, x, &key);
    if (done != NULL || key == NULL) return done;
    if (t == &PyDict_Type) return copy_dict(c, x, memo, depth, NULL, key);
    if (t == &PyList_Type) return copy_list(c, x, memo, depth, NULL, key);
    Py_DECREF(key);
    if (t == &PyTuple_Type) return copy_tuple(c, x, memo, depth);
    if (t == &PySet_Type || t == &PyFrozenSet_Type) return copy_set(c, x, memo, depth);
    return call_foreign(c, x, memo, depth);
}

/* (key, value) of one item of a dict's items() iterator, as `for key, value in` unpacks */
static int
unpack_pair(PyObject *item, PyObject **key, PyObject **value)
{
    PyObject *pair = PySequence_Tuple(item);
    if (pair == NULL) return -1;
    if (PyTuple_GET_SIZE(pair) != 2) {
        PyErr_Format(PyExc_ValueError, "expected 2 values to unpack, got %zd",
                     PyTuple_GET_SIZE(pair));
        Py_DECREF(pair);
        return -1;
    }
    *key = Py_NewRef(PyTuple_GET_ITEM(pair, 0));
    *value = Py_NewRef(PyTuple_GET_ITEM(pair, 1));
    Py_DECREF(pair);
    return 0;
}

/* x's items as a list of (key, value): dict.items(x) for a dict, x.items() otherwise */
static PyObject *
items_list(PyObject *x)
{
    if (PyDict_CheckExact(x)) return PyDict_Items(x);
    PyObject *items = PyObject_CallMethod(x, "items", NULL);
    if (items == NULL) return NULL;
    PyObject *list = PySequence_List(items);
    Py_DECREF(items);
    return list;
}

/* A key that is not an atom: keys cannot be replaced in place, so `new` (already in the
 * memo) is refilled in the same order from the original's items. Steals `new`. */
static PyObject *
rekey_dict(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth, PyObject *new)
{
    PyObject *items = items_list(x);
    if (items == NULL) goto fail;
    PyDict_Clear(new);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *key, *value;
        if (unpack_pair(PyList_GET_ITEM(items, i), &key, &value) < 0) goto fail_items;
        PyObject *new_key = copy_value(c, key, memo, depth);
        Py_DECREF(key);
        if (new_key == NULL) {
            Py_DECREF(value);
            goto fail_items;
        }
        PyObject *new_value = copy_value(c, value, memo, depth);
        Py_DECREF(value);
        if (new_value == NULL) {
            Py_DECREF(new_key);
            goto fail_items;
        }
        int rc = PyDict_SetItem(new, new_key, new_value);
        Py_DECREF(new_key);
        Py_DECREF(new_value);
        if (rc < 0) goto fail_items;
    }
    Py_DECREF(items);
    return new;
fail_items:
    Py_DECREF(items);
fail:
    Py_DECREF(new);
    return NULL;
}

/* One entry of a dict being copied: 1 to go on, 0 when its key sends the copy to
 * rekey_dict, -1 on error. */
static int
dict_entry(Copier *c, PyObject *key, PyObject *value, PyObject *memo, Py_ssize_t depth,
           PyObject *new)
{
    PyTypeObject *kt = Py_TYPE(key);
    if (kt != &PyUnicode_Type) {
        int atom = is_atom(c, kt);
        if (atom <= 0) return atom;
    }
    int atom = is_atom(c, Py_TYPE(value));
    if (atom < 0) return -1;
    if (atom) return 1;
    PyObject *done = copy_entry(c, value, memo, depth);
    if (done == NULL) return -1;
    int rc = PyDict_SetItem(new, key, done);
    Py_DECREF(done);
    return rc < 0 ? -1 : 1;
}

/* Steals `new` (a copy of x made by the caller), or makes it when NULL; steals `key`
 * (id(x), or NULL). */
static PyObject *
copy_dict(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth, PyObject *new,
          PyObject *key)
{
    if (enter_container(c, x, memo, depth, &new, key, PyDict_Copy) < 0) return NULL;
    depth += 1;
    int rc = 1;
    if (PyDict_CheckExact(x)) {
        Py_ssize_t pos = 0, size = PyDict_GET_SIZE(x);
        PyObject *key, *value;
        while (PyDict_Next(x, &pos, &key, &value)) {
            Py_INCREF(key);
            Py_INCREF(value);
            rc = dict_entry(c, key, value, memo, depth, new);
            Py_DECREF(key);
            Py_DECREF(value);
            if (rc <= 0) break;
            if (PyDict_GET_SIZE(x) != size) {
                PyErr_SetString(PyExc_RuntimeError,
                                "dictionary changed size during iteration");
                rc = -1;
                break;
            }
        }
    }
    else {  /* a subclass (host conveniences): its items(), as the Python copier reads it */
        PyObject *items = PyObject_CallMethod(x, "items", NULL);
        PyObject *it = items == NULL ? NULL : PyObject_GetIter(items);
        Py_XDECREF(items);
        if (it == NULL) rc = -1;
        while (rc > 0) {
            PyObject *item = PyIter_Next(it);
            if (item == NULL) {
                if (PyErr_Occurred()) rc = -1;
                break;
            }
            PyObject *key, *value;
            rc = unpack_pair(item, &key, &value);
            Py_DECREF(item);
            if (rc < 0) break;
            rc = dict_entry(c, key, value, memo, depth, new);
            Py_DECREF(key);
            Py_DECREF(value);
        }
        Py_XDECREF(it);
    }
    Py_LeaveRecursiveCall();
    if (rc < 0) goto fail;
    if (rc == 0) return rekey_dict(c, x, memo, depth, new);
    return new;
fail:
    Py_DECREF(new);
    return NULL;
}

/* new[index] = done, as Python's list assignment (IndexError past the end) */
static int
list_store(PyObject *new, Py_ssize_t index, PyObject *done)
{
    if (index >= PyList_GET_SIZE(new)) {
        PyErr_SetString(PyExc_IndexError, "list assignment index out of range");
        return -1;
    }
    PyObject *old = PyList_GET_ITEM(new, index);
    PyList_SET_ITEM(new, index, Py_NewRef(done));
    Py_DECREF(old);
    return 0;
}

static int
list_entry(Copier *c, PyObject *value, PyObject *memo, Py_ssize_t depth, PyObject *new,
           Py_ssize_t index)
{
    int atom = is_atom(c, Py_TYPE(value));
    if (atom != 0) return atom;
    PyObject *done = copy_entry(c, value, memo, depth);
    if (done == NULL) return -1;
    int rc = list_store(new, index, done);
    Py_DECREF(done);
    return rc;
}

/* Steals `new` (a copy of x made by the caller), or makes it when NULL; steals `key`
 * (id(x), or NULL). */
static PyObject *
copy_list(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth, PyObject *new,
          PyObject *key)
{
    if (enter_container(c, x, memo, depth, &new, key, list_copy) < 0) return NULL;
    depth += 1;
    int rc = 0;
    if (PyList_CheckExact(x)) {
        /* the length is read at every step, as the list iterator does */
        for (Py_ssize_t i = 0; rc >= 0 && i < PyList_GET_SIZE(x); i++) {
            PyObject *value = Py_NewRef(PyList_GET_ITEM(x, i));
            rc = list_entry(c, value, memo, depth, new, i);
            Py_DECREF(value);
        }
    }
    else {  /* a subclass: iterated as the Python copier iterates it */
        PyObject *it = PyObject_GetIter(x);
        if (it == NULL) rc = -1;
        for (Py_ssize_t i = 0; rc >= 0; i++) {
            PyObject *value = PyIter_Next(it);
            if (value == NULL) {
                if (PyErr_Occurred()) rc = -1;
                break;
            }
            rc = list_entry(c, value, memo, depth, new, i);
            Py_DECREF(value);
        }
        Py_XDECREF(it);
    }
    Py_LeaveRecursiveCall();
    if (rc < 0) goto fail;
    return new;
fail:
    Py_DECREF(new);
    return NULL;
}

/* 1 when every member of `seq` (a list or tuple) is an atom, 0 if not, -1 on error */
static int
atoms_only(Copier *c, PyObject *seq)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        int atom = is_atom(c, Py_TYPE(items[i]));
        if (atom <= 0) return atom;
    }
    return 1;
}

/* [copy_value(v) for v in seq] for a list or tuple `seq` */
static PyObject *
copy_members(Copier *c, PyObject *seq, PyObject *memo, Py_ssize_t depth)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *items = PyList_New(n);
    if (items == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *done = copy_value(c, PySequence_Fast_GET_ITEM(seq, i), memo, depth);
        if (done == NULL) {
            Py_DECREF(items);
            return NULL;
        }
        PyList_SET_ITEM(items, i, done);
    }
    return items;
}

/* The members of `seq` (those of the tuple or set `x`) copied: 1 with `*items`, a new
 * list to build the copy from; 0 when every member is an atom (nothing copied); 2 with
 * `*result` when copying them put x's copy in the memo (x reached again through a
 * cycle); -1 with an error set. */
static int
copy_sequence(Copier *c, PyObject *x, PyObject *seq, PyObject *memo, Py_ssize_t depth,
              PyObject **items, PyObject **result)
{
    int atoms = atoms_only(c, seq);
    if (atoms != 0) return atoms < 0 ? -1 : 0;
    if (depth >= c->max_nesting) {
        too_deep(c);
        return -1;
    }
    if (Py_EnterRecursiveCall(" while copying a value across the boundary")) return -1;
    *items = copy_members(c, seq, memo, depth + 1);
    Py_LeaveRecursiveCall();
    if (*items == NULL) return -1;
    *result = memo_get(memo, x);
    if (*result != NULL) return 2;
    return PyErr_Occurred() ? -1 : 1;
}

static PyObject *
copy_tuple(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth)
{
    /* an exact tuple is read in place; anything else as `for value in x` reads it */
    PyObject *seq = PyTuple_CheckExact(x) ? Py_NewRef(x) : PySequence_Tuple(x);
    if (seq == NULL) return NULL;
    PyObject *result = NULL, *items = NULL;
    int rc = copy_sequence(c, x, seq, memo, depth, &items, &result);
    if (rc == 0) result = Py_NewRef(x);  /* atoms only: immutable all the way down */
    if (rc != 1) goto done;
    Py_ssize_t n = PyList_GET_SIZE(items);
    int same = n == PyTuple_GET_SIZE(seq);
    for (Py_ssize_t i = 0; same && i < n; i++) {
        same = PyList_GET_ITEM(items, i) == PyTuple_GET_ITEM(seq, i);
    }
    result = same ? Py_NewRef(x) : PyList_AsTuple(items);
    if (result != NULL && memo_set(memo, x, result, NULL) < 0) Py_CLEAR(result);
done:
    Py_XDECREF(items);
    Py_DECREF(seq);
    return result;
}

static PyObject *
copy_set(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth)
{
    int frozen = Py_IS_TYPE(x, &PyFrozenSet_Type);
    PyObject *seq = PySequence_List(x);  /* the members, in iteration order */
    if (seq == NULL) return NULL;
    PyObject *result = NULL, *items = NULL;
    /* (in the memo already: a cycle through a member, only possible via tuples) */
    int rc = copy_sequence(c, x, seq, memo, depth, &items, &result);
    if (rc == 0) result = frozen ? Py_NewRef(x) : PySet_New(x);
    if (rc != 1) goto done;
    result = frozen ? PyFrozenSet_New(items) : PySet_New(items);
    if (result != NULL && memo_set(memo, x, result, NULL) < 0) Py_CLEAR(result);
done:
    Py_XDECREF(items);
    Py_DECREF(seq);
    return result;
}

/* isinstance(x, t) with a type error for an object that passes it only through its
 * __class__ (the base type's C method would refuse it in the Python copier too) */
static int
instance_of(PyObject *x, PyTypeObject *t)
{
    int rc = PyObject_IsInstance(x, (PyObject *)t);
    if (rc > 0 && !PyObject_TypeCheck(x, t)) {
        PyErr_Format(PyExc_TypeError, "descriptor 'copy' for '%s' objects doesn't apply to a "
                     "'%s' object", t->tp_name, Py_TYPE(x)->tp_name);
        return -1;
    }
    return rc;
}

/* A subclass of a plain container becomes its plain base, its storage read by the base
 * type's own C methods; _NOT_A_CONTAINER for anything else (_copy.foreign_container). */
static PyObject *
copy_container(Copier *c, PyObject *x, PyObject *memo, Py_ssize_t depth)
{
    int rc = instance_of(x, &PyDict_Type);
    if (rc < 0) return NULL;
    if (rc) {
        PyObject *new = PyDict_Copy(x);
        return new == NULL ? NULL : copy_dict(c, x, memo, depth, new, NULL);
    }
    rc = instance_of(x, &PyList_Type);
    if (rc < 0) return NULL;
    if (rc) {
        PyObject *new = PyList_GetSlice(x, 0, PyList_GET_SIZE(x));
        return new == NULL ? NULL : copy_list(c, x, memo, depth, new, NULL);
    }
    PyObject *plain = NULL;
    PyTypeObject *bases[3] = {&PyTuple_Type, &PySet_Type, &PyFrozenSet_Type};
    for (int i = 0; i < 3 && plain == NULL; i++) {
        rc = instance_of(x, bases[i]);
        if (rc < 0) return NULL;
        if (!rc) continue;
        if (i == 0) plain = PyTuple_GetSlice(x, 0, PyTuple_GET_SIZE(x));
        else if (i == 1) plain = PySet_New(x);
        else plain = PyFrozenSet_New(x);
        if (plain == NULL) return NULL;
    }
    if (plain == NULL) return Py_NewRef(c->not_a_container);
    /* memo keys are ids: the temporary must live as long as the memo */
    PyObject *fresh = PyList_New(0);
    if (fresh == NULL) goto fail;
    PyObject *kept = PyDict_SetDefault(memo, c->keep_alive, fresh);
    Py_DECREF(fresh);
    if (kept == NULL || !PyList_Check(kept) || PyList_Append(kept, plain) < 0) {
        if (kept != NULL && !PyList_Check(kept)) {
            PyErr_SetString(PyExc_TypeError, "the copy memo's keep-alive entry is not a list");
        }
        goto fail;
    }
    PyObject *done = copy_value(c, plain, memo, depth);
    Py_DECREF(plain);
    if (done != NULL && memo_set(memo, x, done, NULL) < 0) Py_CLEAR(done);
    return done;
fail:
    Py_DECREF(plain);
    return NULL;
}

/* -- the Copier type ------------------------------------------------------------------- */

static int
parse_call(PyObject *const *args, Py_ssize_t nargs, const char *name, PyObject **memo,
           Py_ssize_t *depth)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "%s() takes 3 arguments (%zd given)", name, nargs);
        return -1;
    }
    if (!PyDict_CheckExact(args[1])) {
        PyErr_Format(PyExc_TypeError, "%s(): the memo must be a dict", name);
        return -1;
    }
    *memo = args[1];
    *depth = PyLong_AsSsize_t(args[2]);
    if (*depth == -1 && PyErr_Occurred()) return -1;
    return 0;
}

/* The three entry points, each (x, memo, depth) -> copy: one definition. */
#define COPIER_METHOD(NAME, COPY)                                                \
    static PyObject *                                                           \
    Copier_##NAME(Copier *self, PyObject *const *args, Py_ssize_t nargs)        \
    {                                                                           \
        PyObject *memo;                                                         \
        Py_ssize_t depth;                                                       \
        if (parse_call(args, nargs, #NAME, &memo, &depth) < 0) return NULL;     \
        return COPY(self, args[0], memo, depth);                                \
    }

COPIER_METHOD(value, copy_value)
COPIER_METHOD(tuple, copy_tuple)
COPIER_METHOD(container, copy_container)

static int
flag(PyObject *atoms, PyTypeObject *t, char *out)
{
    int rc = PySet_Contains(atoms, (PyObject *)t);
    if (rc < 0) return -1;
    *out = (char)rc;
    return 0;
}

static PyObject *
Copier_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"atoms", "foreign", "max_nesting", "too_deep", "keep_alive",
                            "not_a_container", NULL};
    PyObject *atoms, *foreign, *too_deep_type, *keep_alive, *not_a_container;
    Py_ssize_t max_nesting;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OnOOO:Copier", names,
                                     &PyFrozenSet_Type, &atoms, &foreign, &max_nesting,
                                     &too_deep_type, &keep_alive, &not_a_container)) {
        return NULL;
    }
    if (!PyCallable_Check(foreign)) {
        PyErr_SetString(PyExc_TypeError, "Copier: foreign must be callable");
        return NULL;
    }
    if (!PyExceptionClass_Check(too_deep_type)) {
        PyErr_SetString(PyExc_TypeError, "Copier: too_deep must be an exception class");
        return NULL;
    }
    /* the container types are dispatched on before the atom test can see them */
    PyTypeObject *containers[5] = {&PyDict_Type, &PyList_Type, &PyTuple_Type, &PySet_Type,
                                   &PyFrozenSet_Type};
    for (int i = 0; i < 5; i++) {
        int rc = PySet_Contains(atoms, (PyObject *)containers[i]);
        if (rc != 0) {
            if (rc > 0) PyErr_SetString(PyExc_ValueError, "Copier: a container among atoms");
            return NULL;
        }
    }
    Copier *self = (Copier *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->atoms = Py_NewRef(atoms);
    self->foreign = Py_NewRef(foreign);
    self->too_deep = Py_NewRef(too_deep_type);
    self->keep_alive = Py_NewRef(keep_alive);
    self->not_a_container = Py_NewRef(not_a_container);
    self->max_nesting = max_nesting;
    if (flag(atoms, &PyUnicode_Type, &self->str_atom) < 0 ||
        flag(atoms, &PyLong_Type, &self->int_atom) < 0 ||
        flag(atoms, &PyFloat_Type, &self->float_atom) < 0 ||
        flag(atoms, Py_TYPE(Py_None), &self->none_atom) < 0 ||
        flag(atoms, &PyBool_Type, &self->bool_atom) < 0 ||
        flag(atoms, &PyBytes_Type, &self->bytes_atom) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
Copier_traverse(Copier *self, visitproc visit, void *arg)
{
    Py_VISIT(self->atoms);
    Py_VISIT(self->foreign);
    Py_VISIT(self->too_deep);
    Py_VISIT(self->keep_alive);
    Py_VISIT(self->not_a_container);
    return 0;
}

static int
Copier_clear(Copier *self)
{
    Py_CLEAR(self->atoms);
    Py_CLEAR(self->foreign);
    Py_CLEAR(self->too_deep);
    Py_CLEAR(self->keep_alive);
    Py_CLEAR(self->not_a_container);
    return 0;
}

static void
Copier_dealloc(Copier *self)
{
    PyObject_GC_UnTrack(self);
    Copier_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Copier_methods[] = {
    {"value", (PyCFunction)(void (*)(void))Copier_value, METH_FASTCALL,
     "value(x, memo, depth): the copy of x."},
    {"tuple", (PyCFunction)(void (*)(void))Copier_tuple, METH_FASTCALL,
     "tuple(x, memo, depth): the copy of the tuple x (x itself when it holds atoms only)."},
    {"container", (PyCFunction)(void (*)(void))Copier_container, METH_FASTCALL,
     "container(x, memo, depth): a subclass of a plain container as its plain base."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CopierType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hookyard._ccopy.Copier",
    .tp_basicsize = sizeof(Copier),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One direction's copier: Copier(atoms, foreign, max_nesting, too_deep, "
              "keep_alive, not_a_container).",
    .tp_new = Copier_new,
    .tp_traverse = (traverseproc)Copier_traverse,
    .tp_clear = (inquiry)Copier_clear,
    .tp_dealloc = (destructor)Copier_dealloc,
    .tp_methods = Copier_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "hookyard._ccopy",
    .m_doc = "The boundary copier of hookyard._copy, compiled (the same algorithm and memo).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__ccopy(void)
{
    if (PyType_Ready(&CopierType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Copier", (PyObject *)&CopierType) < 0 ||
        PyModule_AddIntConstant(m, "VERSION", CCOPY_VERSION) < 0 ||
        PyModule_AddStringConstant(m, "SOURCE", CCOPY_SOURCE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
