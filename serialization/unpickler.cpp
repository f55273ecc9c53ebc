#include "serialization/unpickler.h"

#include <cstring>
#include <unordered_map>

#include "serialization/rebuild_tensor.h"
#include "tensor/error.h"

namespace dsvd::serialization {
namespace {

class Unpickler {
 public:
  Unpickler(const std::string& bytes, size_t offset, const std::string& what, const PersistentLoad& load)
      : in_(bytes), pos_(offset), what_(what), persistent_load_(load) {}

  UnpickleResult run() {
    const size_t start = pos_;
    while (true) {
      DSVD_CHECK(pos_ < in_.size(), what_, ": the pickle ends without STOP at byte ", pos_);
      const size_t at = pos_;
      const unsigned char op = byte();
      if (op == '.') {  // STOP
        DSVD_CHECK(stack_.size() == 1 && marks_.empty(), what_, ": STOP at byte ", at, " with ", stack_.size(),
                   " values on the stack (expected 1)");
        return {stack_.back(), pos_ - start};
      }
      step(op, at);
    }
  }

 private:
  // --- reading the input, bounds-checked ---------------------------------------------------------
  unsigned char byte() {
    need(1);
    return static_cast<unsigned char>(in_[pos_++]);
  }
  void need(uint64_t n) {
    DSVD_CHECK(n <= in_.size() - pos_, what_, ": truncated at byte ", pos_, " (", n, " more bytes needed, ",
               in_.size() - pos_, " left)");
  }
  uint64_t little(int n) {
    need(uint64_t(n));
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(static_cast<unsigned char>(in_[pos_ + size_t(i)])) << (8 * i);
    pos_ += size_t(n);
    return v;
  }
  std::string take(uint64_t n) {
    need(n);
    std::string s = in_.substr(pos_, size_t(n));
    pos_ += size_t(n);
    return s;
  }
  std::string line() {
    const size_t end = in_.find('\n', pos_);
    DSVD_CHECK(end != std::string::npos && end - pos_ <= 256, what_, ": GLOBAL at byte ", pos_,
               " without a name line of at most 256 characters");
    std::string s = in_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }

  // --- the stack -----------------------------------------------------------------------------------
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop(const char* op) {
    DSVD_CHECK(stack_.size() > (marks_.empty() ? 0 : marks_.back()), what_, ": ", op, " on an empty stack");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top(const char* op) {
    DSVD_CHECK(stack_.size() > (marks_.empty() ? 0 : marks_.back()), what_, ": ", op, " on an empty stack");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark(const char* op) {
    DSVD_CHECK(!marks_.empty(), what_, ": ", op, " without a MARK");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + std::ptrdiff_t(mark)),
                                std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }

  // --- containers ------------------------------------------------------------------------------------
  ValuePtr tuple(std::vector<ValuePtr> items) {
    ValuePtr t = make_value(Value::Kind::Tuple);
    for (auto& v : items) adopt(*t, v);
    t->items = std::move(items);
    return t;
  }
  // Depth bookkeeping for a child placed into `parent`.
  void adopt(Value& parent, const ValuePtr& child) {
    parent.depth = std::max(parent.depth, child->depth + 1);
    DSVD_CHECK(parent.depth <= Value::kMaxDepth, what_, ": containers nested deeper than ", Value::kMaxDepth);
  }
  Value& mutable_container(ValuePtr& v, Value::Kind kind, const char* op) {
    DSVD_CHECK(v->kind == kind, what_, ": ", op, " on a ", v->kind_name());
    DSVD_CHECK(!v->frozen, what_, ": ", op, " changes a ", v->kind_name(),
               " that was read from the memo (refused: it could make the structure cyclic)");
    return *v;
  }
  static std::string key_of(const Value& k) {
    if (k.kind == Value::Kind::String) return "s" + k.text;
    if (k.kind == Value::Kind::Int) return "i" + std::to_string(k.integer);
    return {};
  }
  void set_item(Value& dict, ValuePtr key, ValuePtr value) {
    adopt(dict, key);
    adopt(dict, value);
    const std::string k = key_of(*key);
    DSVD_CHECK(!k.empty(), what_, ": a dict key of kind ", key->kind_name(), " (only str and int keys are read)");
    auto it = dict.key_index.find(k);
    if (it != dict.key_index.end()) {
      dict.entries[it->second].second = std::move(value);
    } else {
      dict.key_index[k] = dict.entries.size();
      dict.entries.emplace_back(std::move(key), std::move(value));
    }
  }

  // --- memo --------------------------------------------------------------------------------------------
  void put(uint64_t index) {
    DSVD_CHECK(memo_.size() < in_.size(), what_, ": too many memo entries");
    memo_[index] = top("PUT");
  }
  void get(uint64_t index) {
    auto it = memo_.find(index);
    DSVD_CHECK(it != memo_.end(), what_, ": GET of memo entry ", index, ", which was never stored");
    it->second->frozen = true;
    push(it->second);
  }

  // --- globals and calls ---------------------------------------------------------------------------------
  ValuePtr global(const std::string& module, const std::string& name) {
    static const char* const kAllowed[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                           "torch._utils._rebuild_parameter"};
    const std::string full = module + "." + name;
    bool allowed = false;
    for (const char* a : kAllowed) allowed |= full == a;
    if (!allowed && module == "torch") allowed = storage_type_from_name(name).has_value();
    DSVD_CHECK(allowed, what_, ": refuses the global '", full,
               "' (a checkpoint holds only tensors, numbers, strings, lists and dicts; this file asks to run code)");
    ValuePtr g = make_value(Value::Kind::Global);
    g->text = full;
    return g;
  }
  ValuePtr call(const Value& callable, const Value& args) {
    DSVD_CHECK(callable.kind == Value::Kind::Global, what_, ": REDUCE calls a ", callable.kind_name(),
               ", not an allowed global");
    DSVD_CHECK(args.kind == Value::Kind::Tuple, what_, ": REDUCE with arguments of kind ", args.kind_name());
    const std::string& f = callable.text;
    if (f == "collections.OrderedDict") {
      DSVD_CHECK(args.items.empty(), what_, ": OrderedDict called with ", args.items.size(), " arguments");
      return make_value(Value::Kind::Dict);
    }
    if (f == "torch._utils._rebuild_tensor_v2") {
      DSVD_CHECK(args.items.size() == 6 || args.items.size() == 7, what_, ": _rebuild_tensor_v2 with ",
                 args.items.size(), " arguments (expected 6 or 7)");
      ValuePtr t = make_value(Value::Kind::Tensor);
      t->tensor = rebuild_tensor(*args.items[0], *args.items[1], *args.items[2], *args.items[3], what_);
      return t;
    }
    if (f == "torch._utils._rebuild_parameter") {
      DSVD_CHECK(args.items.size() == 3 && args.items[0]->kind == Value::Kind::Tensor, what_,
                 ": _rebuild_parameter expects (tensor, requires_grad, hooks)");
      return args.items[0];
    }
    fail(what_, ": refuses to call '", f, "' (only OrderedDict, _rebuild_tensor_v2 and _rebuild_parameter are called)");
  }

  // --- one opcode --------------------------------------------------------------------------------------
  void step(unsigned char op, size_t at) {
    switch (op) {
      case 0x80: {  // PROTO
        const unsigned v = byte();
        DSVD_CHECK(v >= 2 && v <= 5, what_, ": pickle protocol ", v, " (2 to 5 are read)");
        return;
      }
      case 0x95: little(8); return;  // FRAME: a length hint, nothing to do
      case '(': marks_.push_back(stack_.size()); return;
      case '0': pop("POP"); return;
      case '1': pop_to_mark("POP_MARK"); return;
      case 'N': push(make_value(Value::Kind::None)); return;
      case 0x88:
      case 0x89: {
        ValuePtr b = make_value(Value::Kind::Bool);
        b->boolean = op == 0x88;
        push(b);
        return;
      }
      case 'J': push(make_int(int64_t(int32_t(uint32_t(little(4)))))); return;
      case 'K': push(make_int(int64_t(little(1)))); return;
      case 'M': push(make_int(int64_t(little(2)))); return;
      case 0x8a:
      case 0x8b: {  // LONG1, LONG4: little-endian two's complement of n bytes
        const uint64_t n = little(op == 0x8a ? 1 : 4);
        DSVD_CHECK(n <= 8, what_, ": an integer of ", n, " bytes at byte ", at, " (at most 8 are read)");
        uint64_t v = n ? little(int(n)) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
        push(make_int(int64_t(v)));
        return;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        need(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(in_[pos_ + size_t(i)]);
        pos_ += 8;
        ValuePtr f = make_value(Value::Kind::Float);
        std::memcpy(&f->number, &bits, 8);
        push(f);
        return;
      }
      case 'X': push(make_string(take(little(4)))); return;     // BINUNICODE
      case 0x8c: push(make_string(take(little(1)))); return;    // SHORT_BINUNICODE
      case 0x8d: push(make_string(take(little(8)))); return;    // BINUNICODE8
      case 'T': push(make_string(take(little(4)))); return;     // BINSTRING (Python 2 str)
      case 'U': push(make_string(take(little(1)))); return;     // SHORT_BINSTRING
      case 'B':
      case 'C': {  // BINBYTES, SHORT_BINBYTES
        ValuePtr b = make_value(Value::Kind::Bytes);
        b->text = take(little(op == 'B' ? 4 : 1));
        push(b);
        return;
      }
      case ')': push(make_value(Value::Kind::Tuple)); return;
      case 't': push(tuple(pop_to_mark("TUPLE"))); return;
      case 0x85:
      case 0x86:
      case 0x87: {
        std::vector<ValuePtr> items(size_t(op - 0x84));
        for (size_t i = items.size(); i-- > 0;) items[i] = pop("TUPLEn");
        push(tuple(std::move(items)));
        return;
      }
      case ']': push(make_value(Value::Kind::List)); return;
      case 'l': {
        ValuePtr l = make_value(Value::Kind::List);
        for (auto& v : pop_to_mark("LIST")) {
          adopt(*l, v);
          l->items.push_back(std::move(v));
        }
        push(l);
        return;
      }
      case 'a': {
        ValuePtr v = pop("APPEND");
        Value& l = mutable_container(top("APPEND"), Value::Kind::List, "APPEND");
        adopt(l, v);
        l.items.push_back(std::move(v));
        return;
      }
      case 'e': {
        std::vector<ValuePtr> items = pop_to_mark("APPENDS");
        Value& l = mutable_container(top("APPENDS"), Value::Kind::List, "APPENDS");
        for (auto& v : items) {
          adopt(l, v);
          l.items.push_back(std::move(v));
        }
        return;
      }
      case '}': push(make_value(Value::Kind::Dict)); return;
      case 'd': {
        std::vector<ValuePtr> items = pop_to_mark("DICT");
        DSVD_CHECK(items.size() % 2 == 0, what_, ": DICT with an odd number of items");
        ValuePtr d = make_value(Value::Kind::Dict);
        for (size_t i = 0; i < items.size(); i += 2) set_item(*d, items[i], items[i + 1]);
        push(d);
        return;
      }
      case 's': {
        ValuePtr value = pop("SETITEM");
        ValuePtr key = pop("SETITEM");
        set_item(mutable_container(top("SETITEM"), Value::Kind::Dict, "SETITEM"), key, value);
        return;
      }
      case 'u': {
        std::vector<ValuePtr> items = pop_to_mark("SETITEMS");
        DSVD_CHECK(items.size() % 2 == 0, what_, ": SETITEMS with an odd number of items");
        Value& d = mutable_container(top("SETITEMS"), Value::Kind::Dict, "SETITEMS");
        for (size_t i = 0; i < items.size(); i += 2) set_item(d, items[i], items[i + 1]);
        return;
      }
      case 'c': {
        std::string module = line();
        std::string name = line();
        push(global(module, name));
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        ValuePtr name = pop("STACK_GLOBAL"), module = pop("STACK_GLOBAL");
        DSVD_CHECK(name->kind == Value::Kind::String && module->kind == Value::Kind::String, what_,
                   ": STACK_GLOBAL with a non-string name");
        push(global(module->text, name->text));
        return;
      }
      case 'R': {
        ValuePtr args = pop("REDUCE");
        ValuePtr callable = pop("REDUCE");
        push(call(*callable, *args));
        return;
      }
      case 'b': {  // BUILD: the state of an OrderedDict (its _metadata) or a tensor is not needed
        ValuePtr state = pop("BUILD");
        const Value& target = *top("BUILD");
        DSVD_CHECK(target.kind == Value::Kind::Dict || target.kind == Value::Kind::Tensor, what_,
                   ": BUILD on a ", target.kind_name(), " (only dicts and tensors get a state)");
        return;
      }
      case 'q': put(little(1)); return;
      case 'r': put(little(4)); return;
      case 0x94: put(memo_.size()); return;  // MEMOIZE
      case 'h': get(little(1)); return;
      case 'j': get(little(4)); return;
      case 'Q': {  // BINPERSID
        ValuePtr pid = pop("BINPERSID");
        DSVD_CHECK(persistent_load_, what_, ": a persistent id where none is expected");
        push(persistent_load_(*pid));
        return;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(what_, ": pickle opcode ", hex, " at byte ", at, " is not one that torch.save writes (refused)");
      }
    }
  }

  const std::string& in_;
  size_t pos_;
  const std::string& what_;
  const PersistentLoad& persistent_load_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
};

}  // namespace

UnpickleResult unpickle(const std::string& bytes, size_t offset, const std::string& what,
                        const PersistentLoad& persistent_load) {
  DSVD_CHECK(offset <= bytes.size(), what, ": pickle offset ", offset, " past the end (", bytes.size(), " bytes)");
  return Unpickler(bytes, offset, what, persistent_load).run();
}

}  // namespace dsvd::serialization
