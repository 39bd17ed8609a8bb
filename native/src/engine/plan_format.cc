#include "engine/plan_format.h"

#include <cstring>

#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/version.h"

namespace kiln {
namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'P', 'L', 'A', 'N'};

// Writes into memory sized beforehand, or (given no memory) only counts the bytes: the plan is
// measured first and then written once into its final buffer, its weights copied once.
class Writer {
 public:
  explicit Writer(uint8_t* to = nullptr) : to_(to) {}
  void bytes(const void* p, size_t n) {
    if (to_ != nullptr && n > 0) std::memcpy(to_ + size_, p, n);
    size_ += n;
  }
  template <typename T>
  void pod(T v) {
    bytes(&v, sizeof(T));  // x86-64 is little-endian, as the format is
  }
  void str(const std::string& s) {
    pod<uint32_t>(static_cast<uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  void dims(const Dims& d) {
    pod<uint32_t>(static_cast<uint32_t>(d.size()));
    for (int64_t v : d) pod<int64_t>(v);
  }
  void ints(const std::vector<int32_t>& v) {
    pod<uint32_t>(static_cast<uint32_t>(v.size()));
    for (int32_t x : v) pod<int32_t>(x);
  }
  size_t size() const { return size_; }

 private:
  uint8_t* to_;
  size_t size_ = 0;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  void need(size_t n, const char* what) {
    if (n > left())
      throw Error(ErrorCode::kInvalidPlan,
                  std::string("engine file is truncated or corrupt (reading ") + what + ")");
  }
  template <typename T>
  T pod(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  // A count of items each at least `minItemBytes` long must fit in what is left, so an absurd
  // count fails here instead of in an allocation.
  uint32_t count(size_t minItemBytes, const char* what) {
    const uint32_t n = pod<uint32_t>(what);
    if (minItemBytes > 0 && n > left() / minItemBytes) {
      throw Error(ErrorCode::kInvalidPlan, std::string("engine file claims ") + std::to_string(n) +
                                               " " + what + ", more than it holds: it is corrupt");
    }
    return n;
  }
  std::string str(const char* what) {
    const uint32_t n = count(1, what);
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  Dims dims(const char* what) {
    const uint32_t n = count(8, what);
    Dims d(n);
    for (auto& v : d) v = pod<int64_t>(what);
    return d;
  }
  std::vector<int32_t> ints(const char* what) {
    const uint32_t n = count(4, what);
    std::vector<int32_t> v(n);
    for (auto& x : v) x = pod<int32_t>(what);
    return v;
  }
  const uint8_t* take(size_t n, const char* what) {
    need(n, what);
    const uint8_t* at = p_;
    p_ += n;
    return at;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

void writeAttr(Writer& w, const AttrValue& a) {
  w.pod<uint8_t>(static_cast<uint8_t>(a.kind));
  switch (a.kind) {
    case AttrValue::Kind::kInt:
      w.pod<int64_t>(a.i);
      break;
    case AttrValue::Kind::kFloat:
      w.pod<double>(a.f);
      break;
    case AttrValue::Kind::kInts:
      w.pod<uint32_t>(static_cast<uint32_t>(a.ints.size()));
      for (int64_t v : a.ints) w.pod<int64_t>(v);
      break;
    case AttrValue::Kind::kFloats:
      w.pod<uint32_t>(static_cast<uint32_t>(a.floats.size()));
      for (double v : a.floats) w.pod<double>(v);
      break;
    case AttrValue::Kind::kString:
      w.str(a.s);
      break;
  }
}

AttrValue readAttr(Reader& r) {
  AttrValue a;
  const uint8_t kind = r.pod<uint8_t>("attribute kind");
  if (kind > static_cast<uint8_t>(AttrValue::Kind::kString))
    throw Error(ErrorCode::kInvalidPlan, "engine file has an unknown attribute kind");
  a.kind = static_cast<AttrValue::Kind>(kind);
  switch (a.kind) {
    case AttrValue::Kind::kInt:
      a.i = r.pod<int64_t>("attribute");
      break;
    case AttrValue::Kind::kFloat:
      a.f = r.pod<double>("attribute");
      break;
    case AttrValue::Kind::kInts: {
      a.ints.resize(r.count(8, "attribute values"));
      for (auto& v : a.ints) v = r.pod<int64_t>("attribute");
      break;
    }
    case AttrValue::Kind::kFloats: {
      a.floats.resize(r.count(8, "attribute values"));
      for (auto& v : a.floats) v = r.pod<double>("attribute");
      break;
    }
    case AttrValue::Kind::kString:
      a.s = r.str("attribute");
      break;
  }
  return a;
}

std::string missingFeatures(uint64_t required) {
  const CpuFeatures& f = cpuFeatures();
  std::string missing;
  const auto add = [&](bool has, uint64_t bit, const char* name) {
    if ((required & bit) && !has) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  add(f.avx2 && f.fma, kPlanNeedsAvx2, "AVX2+FMA");
  add(f.avx512f, kPlanNeedsAvx512, "AVX-512");
  add(f.avx512vnni, kPlanNeedsAvx512Vnni, "AVX-512 VNNI");
  add(f.f16c, kPlanNeedsF16c, "F16C");
  const uint64_t known = kPlanNeedsAvx2 | kPlanNeedsAvx512 | kPlanNeedsAvx512Vnni | kPlanNeedsF16c;
  if (required & ~known)
    missing += std::string(missing.empty() ? "" : ", ") + "features unknown to this core";
  return missing;
}

}  // namespace

uint64_t fnv1a64(const uint8_t* data, size_t size, uint64_t seed) {
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 1099511628211ULL;
  }
  return h;
}

namespace {

void writeBody(Writer& body, const Network& n, const PlanInfo& info) {
  body.pod<uint32_t>(static_cast<uint32_t>(n.tensors.size()));
  for (const TensorDesc& t : n.tensors) {
    body.str(t.name);
    body.pod<int32_t>(static_cast<int32_t>(t.dtype));
    body.dims(t.shape);
    body.pod<int32_t>(t.constant);
  }
  body.pod<uint32_t>(static_cast<uint32_t>(n.layers.size()));
  for (const LayerDesc& l : n.layers) {
    body.str(l.name);
    body.str(l.op);
    body.ints(l.inputs);
    body.ints(l.outputs);
    body.pod<uint32_t>(static_cast<uint32_t>(l.guards.size()));
    for (const auto& [tensor, value] : l.guards) {
      body.pod<int32_t>(tensor);
      body.pod<uint8_t>(value ? 1 : 0);
    }
    body.pod<uint32_t>(static_cast<uint32_t>(l.attrs.size()));
    for (const auto& [key, value] : l.attrs) {
      body.str(key);
      writeAttr(body, value);
    }
    if (info.formatVersion >= 2) body.str(l.tactic);
  }
  body.ints(n.inputs);
  body.ints(n.outputs);
  body.pod<uint32_t>(static_cast<uint32_t>(n.profiles.size()));
  for (const Profile& p : n.profiles) {
    body.pod<uint32_t>(static_cast<uint32_t>(p.inputs.size()));
    for (const ProfileDims& d : p.inputs) {
      body.pod<int32_t>(d.tensor);
      body.dims(d.min);
      body.dims(d.opt);
      body.dims(d.max);
      body.dims(d.minValues);
      body.dims(d.optValues);
      body.dims(d.maxValues);
    }
  }
  body.pod<uint32_t>(static_cast<uint32_t>(n.weights.size()));
  for (const auto& w : n.weights) {
    body.pod<uint64_t>(w.size());
    body.bytes(w.data(), w.size());
  }
}

// Everything before the checksum.
void writeHead(Writer& head, const PlanInfo& info, uint64_t payloadBytes) {
  head.bytes(kMagic, sizeof(kMagic));
  head.pod<uint32_t>(info.formatVersion);
  head.str(info.coreVersion.empty() ? kCoreVersion : info.coreVersion);
  head.str(info.backend);
  head.pod<uint64_t>(info.requiredFeatures);
  head.pod<uint64_t>(payloadBytes);
}

}  // namespace

std::vector<uint8_t> writePlan(const Network& n, const PlanInfo& info) {
  Writer bodySize, headSize;
  writeBody(bodySize, n, info);
  writeHead(headSize, info, bodySize.size());
  std::vector<uint8_t> out(headSize.size() + 8 + bodySize.size());
  uint8_t* payload = out.data() + headSize.size() + 8;
  Writer body(payload), head(out.data());
  writeBody(body, n, info);
  writeHead(head, info, bodySize.size());
  // The checksum covers the header before it and the payload after it.
  const uint64_t sum = fnv1a64(out.data(), headSize.size(), fnv1a64(payload, bodySize.size()));
  std::memcpy(out.data() + headSize.size(), &sum, sizeof sum);
  return out;
}

Network readPlan(const uint8_t* data, size_t size, PlanInfo* infoOut) {
  Reader r(data, size);
  if (size < sizeof(kMagic) || std::memcmp(data, kMagic, sizeof(kMagic)) != 0) {
    throw Error(ErrorCode::kInvalidPlan, "not a kiln engine file (the magic bytes are missing)");
  }
  r.take(sizeof(kMagic), "magic");
  PlanInfo info;
  info.formatVersion = r.pod<uint32_t>("format version");
  if (info.formatVersion < kPlanFormatOldestReadable || info.formatVersion > kPlanFormatVersion) {
    throw Error(ErrorCode::kInvalidPlan,
                "engine file has format version " + std::to_string(info.formatVersion) +
                    " but this kiln core (" + kCoreVersion + ") reads versions " +
                    std::to_string(kPlanFormatOldestReadable) + " to " +
                    std::to_string(kPlanFormatVersion) + ": rebuild the engine");
  }
  info.coreVersion = r.str("core version");
  info.backend = r.str("backend");
  if (info.backend != "cpu") {
    throw Error(ErrorCode::kInvalidPlan,
                "engine file was built for the '" + info.backend +
                    "' backend; this runtime loads it on 'cpu': rebuild it for cpu");
  }
  info.requiredFeatures = r.pod<uint64_t>("required features");
  const std::string missing = missingFeatures(info.requiredFeatures);
  if (!missing.empty()) {
    throw Error(ErrorCode::kInvalidPlan, "engine file needs CPU features this machine lacks (" +
                                             missing + "): rebuild it on or for this machine");
  }
  const uint64_t payloadSize = r.pod<uint64_t>("payload size");
  const size_t headerSize = size - r.left();
  const uint64_t checksum = r.pod<uint64_t>("checksum");
  if (payloadSize != r.left()) {
    throw Error(ErrorCode::kInvalidPlan,
                "engine file is truncated or has trailing bytes: expected " +
                    std::to_string(payloadSize) + " payload bytes, found " +
                    std::to_string(r.left()));
  }
  const uint8_t* payload = r.take(payloadSize, "payload");
  if (fnv1a64(data, headerSize, fnv1a64(payload, payloadSize)) != checksum) {
    throw Error(ErrorCode::kInvalidPlan, "engine file is corrupted: its checksum does not match");
  }

  Reader b(payload, payloadSize);
  Network n;
  n.tensors.resize(b.count(4 + 4 + 4 + 4, "tensors"));
  for (TensorDesc& t : n.tensors) {
    t.name = b.str("tensor name");
    t.dtype = static_cast<DataType>(b.pod<int32_t>("tensor type"));
    t.shape = b.dims("tensor shape");
    t.constant = b.pod<int32_t>("tensor weights");
  }
  n.layers.resize(b.count(4 * 6, "layers"));
  for (LayerDesc& l : n.layers) {
    l.name = b.str("layer name");
    l.op = b.str("layer op");
    l.inputs = b.ints("layer inputs");
    l.outputs = b.ints("layer outputs");
    l.guards.resize(b.count(5, "layer guards"));
    for (auto& guard : l.guards) {
      guard.first = b.pod<int32_t>("guard tensor");
      guard.second = b.pod<uint8_t>("guard value") != 0;
    }
    const uint32_t attrs = b.count(4 + 1, "attributes");
    for (uint32_t i = 0; i < attrs; ++i) {
      std::string key = b.str("attribute name");
      l.attrs[key] = readAttr(b);
    }
    if (info.formatVersion >= 2) l.tactic = b.str("layer tactic");
  }
  n.inputs = b.ints("inputs");
  n.outputs = b.ints("outputs");
  n.profiles.resize(b.count(4, "profiles"));
  for (Profile& p : n.profiles) {
    p.inputs.resize(b.count(4 + 24, "profile inputs"));
    for (ProfileDims& d : p.inputs) {
      d.tensor = b.pod<int32_t>("profile tensor");
      d.min = b.dims("profile min");
      d.opt = b.dims("profile opt");
      d.max = b.dims("profile max");
      d.minValues = b.dims("profile min values");
      d.optValues = b.dims("profile opt values");
      d.maxValues = b.dims("profile max values");
    }
  }
  n.weights.resize(b.count(8, "weights"));
  for (auto& w : n.weights) {
    const uint64_t bytes = b.pod<uint64_t>("weights size");
    const uint8_t* at = b.take(bytes, "weights");
    w.assign(at, at + bytes);
  }
  if (b.left() != 0)
    throw Error(ErrorCode::kInvalidPlan, "engine file has unexpected bytes after its contents");
  n.validate(/*fromPlan=*/true);
  if (infoOut) *infoOut = info;
  return n;
}

}  // namespace kiln
