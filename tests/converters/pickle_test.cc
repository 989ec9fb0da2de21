#include "converters/pickle.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "runtime/error.h"

namespace facelib::convert::pickle {
namespace {

// Builds pickle byte strings opcode by opcode.
class P {
 public:
  P& op(uint8_t o) { s_.push_back(static_cast<char>(o)); return *this; }
  P& u8(uint8_t v) { return op(v); }
  P& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  P& raw(const std::string& x) { s_ += x; return *this; }
  P& proto(int v) { return op(0x80).u8(static_cast<uint8_t>(v)); }
  P& str(const std::string& x) { return op('X').le(x.size(), 4).raw(x); }        // BINUNICODE
  P& sstr(const std::string& x) { return op(0x8c).u8(static_cast<uint8_t>(x.size())).raw(x); }  // SHORT_BINUNICODE
  P& i1(uint8_t v) { return op('K').u8(v); }
  P& global(const std::string& m, const std::string& n) { return op('c').raw(m + "\n" + n + "\n"); }
  P& stop() { return op('.'); }
  const std::string& s() const { return s_; }

 private:
  std::string s_;
};

struct Loaded {
  std::shared_ptr<const Unpickled> u;
  size_t end = 0;
};

Loaded Load(const std::string& bytes, const Limits& lim = {}) {
  Loaded r;
  r.u = Unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &r.end, "test.pkl", lim);
  return r;
}

// Runs the pickle and returns the error it must raise.
Error LoadError(const std::string& bytes, const Limits& lim = {}) {
  try {
    Load(bytes, lim);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ErrorCode::kInternal, "no error");
}

TEST(PickleTest, Integers) {
  // tuple of BININT1 200, BININT2 40000, BININT -5, LONG1 -2 (1 byte), LONG1 2^40, LONG1 10-byte, LONG4 0
  P p;
  p.proto(2).op('(').i1(200).op('M').le(40000, 2).op('J').le(static_cast<uint32_t>(-5), 4);
  p.op(0x8a).u8(1).u8(0xfe);
  p.op(0x8a).u8(6).le(uint64_t{1} << 40, 6);
  p.op(0x8a).u8(10).raw(std::string("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10));
  p.op(0x8b).le(0, 4);
  p.op('t').stop();
  Loaded r = Load(p.s());
  const Value* t = r.u->root();
  ASSERT_EQ(t->type, Type::kTuple);
  ASSERT_EQ(t->items.size(), 7u);
  EXPECT_EQ(t->items[0]->i, 200);
  EXPECT_EQ(t->items[1]->i, 40000);
  EXPECT_EQ(t->items[2]->i, -5);
  EXPECT_EQ(t->items[3]->i, -2);
  EXPECT_EQ(t->items[4]->i, int64_t{1} << 40);
  EXPECT_EQ(t->items[5]->type, Type::kBigInt);  // torch's legacy magic number
  EXPECT_EQ(t->items[5]->str.size(), 10u);
  EXPECT_EQ(t->items[6]->i, 0);
  EXPECT_EQ(r.end, p.s().size());
}

TEST(PickleTest, ScalarsStringsAndBytes) {
  P p;
  p.proto(4).op(0x95).le(0, 8);  // FRAME (length hint only)
  p.op('(').op('N').op(0x88).op(0x89);
  p.op('G').raw(std::string("\x3f\xf8\x00\x00\x00\x00\x00\x00", 8));  // 1.5 big-endian
  p.str("héllo").sstr("ab").op(0x8d).le(3, 8).raw("xyz");
  p.op('C').u8(2).raw(std::string("\x00\xff", 2)).op('B').le(1, 4).raw("q").op(0x8e).le(0, 8);
  p.op('t').stop();
  const Loaded keep = Load(p.s());
  const Value* t = keep.u->root();
  ASSERT_EQ(t->items.size(), 10u);
  EXPECT_EQ(t->items[0]->type, Type::kNone);
  EXPECT_TRUE(t->items[1]->b);
  EXPECT_FALSE(t->items[2]->b);
  EXPECT_DOUBLE_EQ(t->items[3]->f, 1.5);
  EXPECT_TRUE(t->items[4]->IsString("héllo"));
  EXPECT_TRUE(t->items[5]->IsString("ab"));
  EXPECT_TRUE(t->items[6]->IsString("xyz"));
  EXPECT_EQ(t->items[7]->type, Type::kBytes);
  EXPECT_EQ(t->items[7]->str, std::string("\x00\xff", 2));
  EXPECT_EQ(t->items[8]->str, "q");
  EXPECT_EQ(t->items[9]->str, "");
}

TEST(PickleTest, TuplesListsDictsAndMemo) {
  // {'a': [1, 2, 3], 'b': (('x',), (1, 2), (1, 2, 3)), 'c': <the same list>}
  P p;
  p.proto(2).op('}').op('q').u8(0).op('(');
  p.sstr("a").op(']').op('q').u8(1).i1(1).op('a').op('(').i1(2).i1(3).op('e');
  p.sstr("b").sstr("x").op(0x85).i1(1).i1(2).op(0x86).i1(1).i1(2).i1(3).op(0x87).op(0x87);
  p.sstr("c").op('h').u8(1);
  p.op('u');
  // A later APPEND through the memo must show in both places.
  p.op('0');                    // drop the dict
  p.op('h').u8(1).i1(4).op('a');  // memo[1].append(4)
  p.op('0').op('h').u8(0).stop();
  const Loaded keep = Load(p.s());
  const Value* d = keep.u->root();
  ASSERT_EQ(d->type, Type::kDict);
  ASSERT_EQ(d->entries.size(), 3u);
  const Value* a = d->Get("a");
  ASSERT_EQ(a->type, Type::kList);
  ASSERT_EQ(a->items.size(), 4u);
  EXPECT_EQ(a->items[3]->i, 4);
  EXPECT_EQ(d->Get("c"), a);  // shared, not copied
  const Value* b = d->Get("b");
  ASSERT_EQ(b->items.size(), 3u);
  EXPECT_TRUE(b->items[0]->items[0]->IsString("x"));
  EXPECT_EQ(b->items[2]->items[2]->i, 3);
  EXPECT_EQ(d->Get("missing"), nullptr);
}

TEST(PickleTest, LongMemoMemoizeDictAndSet) {
  P p;
  p.proto(4).op('(').sstr("k").op(0x94).i1(7).op('d').op(0x94);  // DICT {'k': 7}, memo 0='k', memo 1=dict
  p.op('r').le(70000, 4);                                          // LONG_BINPUT 70000
  p.op(0x8f).op('(').i1(1).i1(2).op(0x90);                         // EMPTY_SET + ADDITEMS
  p.op('(').op('j').le(70000, 4).op('h').u8(0).op('j').le(1, 4).op('t').stop();
  const Loaded keep = Load(p.s());
  const Value* t = keep.u->root();
  ASSERT_EQ(t->items.size(), 3u);
  EXPECT_EQ(t->items[0]->Get("k")->i, 7);
  EXPECT_TRUE(t->items[1]->IsString("k"));
  EXPECT_EQ(t->items[2], t->items[0]);
}

TEST(PickleTest, OrderedDictAndTorchTensor) {
  // OrderedDict([('w', _rebuild_tensor_v2(<storage 'k0'>, 2, (2, 3), (1, 2), False, OrderedDict()))])
  P p;
  p.proto(2).global("collections", "OrderedDict").op('q').u8(0).op(')').op('R').op('(');
  p.str("w").global("torch._utils", "_rebuild_tensor_v2").op('(');
  p.op('(').str("storage").global("torch", "FloatStorage").str("k0").str("cpu").i1(8).op('N').op('t').op('Q');
  p.i1(2).i1(2).i1(3).op(0x86).i1(1).i1(2).op(0x86).op(0x89).op('h').u8(0).op(')').op('R').op('t').op('R');
  p.op('u').op('}').op('b').stop();  // BUILD with the _metadata-style state
  Loaded r = Load(p.s());
  const Value* d = r.u->root();
  ASSERT_EQ(d->type, Type::kDict);
  const Value* w = d->Get("w");
  ASSERT_EQ(w->type, Type::kTensor);
  EXPECT_EQ(w->tensor->offset, 2);
  EXPECT_EQ(w->tensor->size, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w->tensor->stride, (std::vector<int64_t>{1, 2}));
  ASSERT_EQ(r.u->storages().size(), 1u);
  EXPECT_EQ(r.u->storages()[0]->storage->key, "k0");
  EXPECT_EQ(r.u->storages()[0]->storage->type, "FloatStorage");
  EXPECT_EQ(r.u->storages()[0]->storage->numel, 8);
  EXPECT_EQ(DescribeValue(w), "tensor [2,3]");
}

TEST(PickleTest, NumpyArrayWithLatin1Data) {
  // numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') + BUILD (1, (2,), dtype('<f4'), False, data)
  // with the data as a str passed through _codecs.encode(..., 'latin1'), as Python 2 era pickles do.
  const float vals[2] = {1.0f, -2.5f};
  std::string bytes(reinterpret_cast<const char*>(vals), 8);
  std::string utf8;  // latin1 code points as UTF-8
  for (unsigned char c : bytes) {
    if (c < 0x80) utf8.push_back(static_cast<char>(c));
    else {
      utf8.push_back(static_cast<char>(0xc0 | (c >> 6)));
      utf8.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  P p;
  p.proto(2).global("numpy.core.multiarray", "_reconstruct").global("numpy", "ndarray").i1(0).op(0x85);
  p.op('C').u8(1).raw("b").op(0x87).op('R');
  p.op('(').i1(1).i1(2).op(0x85).global("numpy", "dtype").str("f4").op(0x89).op(0x88).op(0x87).op('R');
  p.op('(').i1(3).str("<").op('N').op('N').op('N').op('J').le(0xffffffff, 4).op('J').le(0xffffffff, 4).i1(0).op('t');
  p.op('b').op(0x89).global("_codecs", "encode").str(utf8).str("latin1").op(0x86).op('R').op('t').op('b').stop();
  const Loaded keep = Load(p.s());
  const Value* a = keep.u->root();
  ASSERT_EQ(a->type, Type::kArray);
  EXPECT_EQ(a->array->shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(ArrayToFloats(*a->array, "t"), (std::vector<float>{1.0f, -2.5f}));
}

TEST(PickleTest, FortranOrderAndIntegerArrays) {
  NdArray a;
  a.dtype = {'i', 2, false};
  a.shape = {2, 3};
  a.fortran = true;
  const int16_t f_order[6] = {1, 4, 2, 5, -3, 6};  // columns of [[1,2,-3],[4,5,6]]
  a.bytes.assign(reinterpret_cast<const char*>(f_order), sizeof f_order);
  EXPECT_EQ(ArrayToFloats(a, "t"), (std::vector<float>{1, 2, -3, 4, 5, 6}));
  NdArray h;
  h.dtype = {'f', 2, true};  // big-endian half: 0x3c00 = 1.0, 0xc000 = -2.0
  h.shape = {2};
  h.bytes = std::string("\x3c\x00\xc0\x00", 4);
  EXPECT_EQ(ArrayToFloats(h, "t"), (std::vector<float>{1.0f, -2.0f}));
}

TEST(PickleTest, JoblibArrayReadsTrailingData) {
  // [NumpyArrayWrapper(...)] followed by padding and 3 float32 values, then the rest of the pickle.
  P p;
  p.proto(4).op(']').sstr("joblib.numpy_pickle").sstr("NumpyArrayWrapper").op(0x93).op(')').op(0x81);
  p.op('}').op('(').sstr("shape").i1(3).op(0x85).sstr("order").sstr("C").sstr("dtype");
  p.sstr("numpy").sstr("dtype").op(0x93).sstr("f4").op(0x89).op(0x88).op(0x87).op('R');
  p.op('(').i1(3).sstr("<").op('N').op('N').op('N').op('J').le(0xffffffff, 4).op('J').le(0xffffffff, 4).i1(0).op('t').op('b');
  p.sstr("numpy_array_alignment_bytes").i1(16).op('u').op('b');
  p.u8(2).raw(std::string("\xff\xff", 2));  // padding length + padding
  const float vals[3] = {0.5f, 1.5f, -4.0f};
  p.raw(std::string(reinterpret_cast<const char*>(vals), 12));
  p.op('a').stop();
  const Loaded keep = Load(p.s());
  const Value* l = keep.u->root();
  ASSERT_EQ(l->type, Type::kList);
  ASSERT_EQ(l->items.size(), 1u);
  ASSERT_EQ(l->items[0]->type, Type::kArray);
  EXPECT_EQ(ArrayToFloats(*l->items[0]->array, "t"), (std::vector<float>{0.5f, 1.5f, -4.0f}));
}

TEST(PickleTest, DisallowedGlobalsAreNamed) {
  Error e = LoadError(P().proto(2).global("os", "system").str("rm -rf /").op(0x85).op('R').stop().s());
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("'os.system' is not allowed"), std::string::npos) << e.what();
  e = LoadError(P().proto(4).sstr("builtins").sstr("eval").op(0x93).stop().s());
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("builtins.eval"), std::string::npos) << e.what();
  // Allowed names that are not callable are refused when called.
  e = LoadError(P().proto(2).global("torch", "FloatStorage").op(')').op('R').stop().s());
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("calling 'torch.FloatStorage'"), std::string::npos) << e.what();
  // A persistent id that is not a torch storage.
  e = LoadError(P().proto(2).str("file").op(0x85).op('Q').stop().s());
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
}

TEST(PickleTest, MalformedInputs) {
  struct Case {
    std::string bytes;
    ErrorCode code;
    const char* message;
  };
  const Case cases[] = {
      {P().proto(2).op(0xff).s(), ErrorCode::kInvalidModel, "unknown opcode 0xff"},
      {P().proto(2).op('X').le(0xffffffffu, 4).s(), ErrorCode::kInvalidModel, "truncated"},
      {P().proto(4).op(0x8d).le(uint64_t{1} << 63, 8).s(), ErrorCode::kInvalidModel, "truncated"},
      {P().proto(4).op(0x95).le(uint64_t{1} << 62, 8).s(), ErrorCode::kInvalidModel, "truncated"},
      {P().proto(2).op('h').u8(3).s(), ErrorCode::kInvalidModel, "memo key 3 was never stored"},
      {P().proto(2).op('a').s(), ErrorCode::kInvalidModel, "stack underflow"},
      {P().proto(2).i1(1).i1(2).op('a').s(), ErrorCode::kInvalidModel, "APPEND to a int"},
      {P().proto(2).op('t').s(), ErrorCode::kInvalidModel, "no MARK"},
      {P().proto(2).op('(').i1(1).op('d').s(), ErrorCode::kInvalidModel, "odd number"},
      {P().proto(2).op('(').i1(1).stop().s(), ErrorCode::kInvalidModel, "open MARK"},
      {P().proto(6).s(), ErrorCode::kUnsupported, "protocol 6"},
      {P().proto(2).op('S').s(), ErrorCode::kUnsupported, "STRING"},
      {P().proto(2).i1(1).op(0x8b).le(0x80000000u, 4).s(), ErrorCode::kInvalidModel, "negative LONG4"},
      {std::string(), ErrorCode::kInvalidModel, "truncated"},
  };
  for (const Case& c : cases) {
    const Error e = LoadError(c.bytes);
    EXPECT_EQ(e.code(), c.code) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test.pkl"), std::string::npos) << e.what();
  }
}

TEST(PickleTest, EveryTruncationFailsCleanly) {
  P p;
  p.proto(2).global("collections", "OrderedDict").op(')').op('R').op('(').str("w");
  p.global("torch._utils", "_rebuild_tensor_v2").op('(').op('(').str("storage").global("torch", "FloatStorage");
  p.str("0").str("cpu").i1(4).op('t').op('Q').i1(0).i1(4).op(0x85).i1(1).op(0x85).op(0x89).op(')').op('t').op('R');
  p.op('u').stop();
  ASSERT_EQ(Load(p.s()).u->root()->type, Type::kDict);
  for (size_t n = 0; n < p.s().size(); ++n) {
    const Error e = LoadError(p.s().substr(0, n));
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << "prefix " << n << ": " << e.what();
  }
}

TEST(PickleTest, LimitsAreEnforced) {
  Limits lim;
  lim.max_marks = 8;
  std::string deep = P().proto(2).s() + std::string(20, '(');
  Error e = LoadError(deep, lim);
  EXPECT_EQ(e.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(std::string(e.what()).find("MARKs nested deeper than 8"), std::string::npos) << e.what();

  lim = Limits();
  lim.max_values = 100;
  P many;
  many.proto(2).op(']');
  for (int i = 0; i < 200; ++i) many.op('N').op('a');
  e = LoadError(many.stop().s(), lim);
  EXPECT_EQ(e.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(std::string(e.what()).find("more than 100 values"), std::string::npos) << e.what();

  // A numpy array whose shape overflows.
  P big;
  big.proto(2).global("numpy.core.multiarray", "_reconstruct").global("numpy", "ndarray").i1(0).op(0x85);
  big.op('C').u8(1).raw("b").op(0x87).op('R').op('(').i1(1);
  big.op('(').op('J').le(0x7fffffff, 4).op('J').le(0x7fffffff, 4).op('J').le(0x7fffffff, 4).op('t');
  big.global("numpy", "dtype").str("f4").op(0x89).op(0x88).op(0x87).op('R');
  big.op(0x89).op('C').u8(0).op('t').op('b').stop();
  e = LoadError(big.s());
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("array shape overflows"), std::string::npos) << e.what();
}

}  // namespace
}  // namespace facelib::convert::pickle
