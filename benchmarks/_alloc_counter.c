/* A hook on CPython's memory allocator for benchmarks/allocations.py, which
 * compiles this file with the system's C compiler and loads it with ctypes.
 *
 * It wraps the "mem" and "obj" domains (PyMem_Malloc and PyObject_Malloc:
 * every Python object and nearly everything the interpreter allocates while
 * holding the GIL), never the "raw" domain, which other threads call without
 * the GIL. While `alloc_counter_counting` is set it counts the calls; while
 * `alloc_counter_keeping` is set, frees are dropped, so that tracemalloc
 * (started before `alloc_counter_install`, hence below this hook) keeps the
 * trace of every block allocated meanwhile. No Python headers are needed:
 * the declarations below are CPython's stable ABI (PEP 445). */
#include <stddef.h>

typedef struct {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
} PyMemAllocatorEx;

void PyMem_GetAllocator(int domain, PyMemAllocatorEx *allocator);
void PyMem_SetAllocator(int domain, PyMemAllocatorEx *allocator);

enum { DOMAIN_MEM = 1, DOMAIN_OBJ = 2 };

/* Blocks allocated (malloc, calloc, realloc of NULL), their bytes, blocks
 * resized (realloc of a block) and blocks freed, while counting. */
unsigned long long alloc_counter_allocated = 0;
unsigned long long alloc_counter_bytes = 0;
unsigned long long alloc_counter_resized = 0;
unsigned long long alloc_counter_freed = 0;
int alloc_counter_counting = 0;
int alloc_counter_keeping = 0;

static PyMemAllocatorEx original[2];
static PyMemAllocatorEx hook[2];
static int installed = 0;

static void *hook_malloc(void *ctx, size_t size) {
    PyMemAllocatorEx *next = ctx;
    if (alloc_counter_counting) {
        alloc_counter_allocated++;
        alloc_counter_bytes += size;
    }
    return next->malloc(next->ctx, size);
}

static void *hook_calloc(void *ctx, size_t nelem, size_t elsize) {
    PyMemAllocatorEx *next = ctx;
    if (alloc_counter_counting) {
        alloc_counter_allocated++;
        alloc_counter_bytes += nelem * elsize;
    }
    return next->calloc(next->ctx, nelem, elsize);
}

static void *hook_realloc(void *ctx, void *ptr, size_t new_size) {
    PyMemAllocatorEx *next = ctx;
    if (alloc_counter_counting) {
        if (ptr == NULL) {
            alloc_counter_allocated++;
            alloc_counter_bytes += new_size;
        } else {
            alloc_counter_resized++;
        }
    }
    return next->realloc(next->ctx, ptr, new_size);
}

static void hook_free(void *ctx, void *ptr) {
    PyMemAllocatorEx *next = ctx;
    if (ptr == NULL) {
        return;
    }
    if (alloc_counter_counting) {
        alloc_counter_freed++;
    }
    if (!alloc_counter_keeping) {
        next->free(next->ctx, ptr);
    }
}

/* Call with the GIL held (ctypes.PyDLL). */
void alloc_counter_install(void) {
    int domains[2] = {DOMAIN_MEM, DOMAIN_OBJ};
    if (installed) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        PyMem_GetAllocator(domains[i], &original[i]);
        hook[i].ctx = &original[i];
        hook[i].malloc = hook_malloc;
        hook[i].calloc = hook_calloc;
        hook[i].realloc = hook_realloc;
        hook[i].free = hook_free;
        PyMem_SetAllocator(domains[i], &hook[i]);
    }
    installed = 1;
}

/* Puts back the allocators found by alloc_counter_install: call it before
 * anything installed after that (tracemalloc.stop) is taken away. */
void alloc_counter_uninstall(void) {
    int domains[2] = {DOMAIN_MEM, DOMAIN_OBJ};
    if (!installed) {
        return;
    }
    alloc_counter_counting = 0;
    alloc_counter_keeping = 0;
    for (int i = 0; i < 2; i++) {
        PyMem_SetAllocator(domains[i], &original[i]);
    }
    installed = 0;
}
