// A restricted unpickler for the pickles torch.save writes (protocol 2, and the protocol-4 opcodes
// a newer Python may add). It is a parser of untrusted input: it executes nothing, understands
// only the opcodes below, and resolves only these globals:
//
//   collections.OrderedDict            called with no arguments: an empty dict
//   torch._utils._rebuild_tensor_v2    (storage, offset, size, stride, requires_grad, hooks[, meta])
//   torch._utils._rebuild_parameter    (tensor, requires_grad, hooks)
//   torch.<Type>Storage                the element type of a storage in a persistent id
//
// Anything else is refused with an error naming the global (for example "os.system"). Every length,
// index, size and offset is checked against the input; containers never become cyclic (a container
// fetched from the memo is read-only) and nest at most Value::kMaxDepth deep.
//
// Opcodes: PROTO FRAME STOP MARK POP POP_MARK NONE NEWTRUE NEWFALSE BININT BININT1 BININT2 LONG1
// LONG4 BINFLOAT BINUNICODE SHORT_BINUNICODE BINUNICODE8 BINSTRING SHORT_BINSTRING BINBYTES
// SHORT_BINBYTES EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST LIST APPEND APPENDS EMPTY_DICT
// DICT SETITEM SETITEMS GLOBAL STACK_GLOBAL REDUCE BUILD BINPUT LONG_BINPUT MEMOIZE BINGET
// LONG_BINGET BINPERSID.
#pragma once
#include <functional>
#include <string>

#include "serialization/pickle_value.h"

namespace dsvd::serialization {

// Resolves a persistent id (BINPERSID's argument, a tuple) to a Storage value.
using PersistentLoad = std::function<ValuePtr(const Value& pid)>;

struct UnpickleResult {
  ValuePtr value;
  size_t consumed = 0;  // bytes up to and including STOP (the legacy format reads several pickles)
};

// Unpickles bytes[offset..] up to STOP. `what` names the input in messages
// ("model.pth: data.pkl").
UnpickleResult unpickle(const std::string& bytes, size_t offset, const std::string& what,
                        const PersistentLoad& persistent_load);

}  // namespace dsvd::serialization
