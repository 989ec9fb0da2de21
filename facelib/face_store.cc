#include "facelib/face_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "runtime/error.h"
#include "runtime/model_file.h"
#include "runtime/sha256.h"

namespace facelib {

namespace fs = std::filesystem;

namespace {

constexpr char kStoreMagic[8] = {'F', 'A', 'C', 'E', 'L', 'I', 'B', 'S'};
constexpr uint32_t kStoreVersion = 1;
constexpr size_t kChecksumBytes = 8;
constexpr uint32_t kMaxDim = 1u << 16;
constexpr size_t kMaxErrorText = 1000;
// While a long Refresh runs, the completed files are saved this often, so an
// interrupted build resumes instead of starting over.
constexpr double kCheckpointSeconds = 60;

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Lower case without hyphens; kInvalidArgument for empty names or characters
// that do not belong in a file name part.
std::string NormalizeKeyPart(const std::string& value, const char* field) {
  if (value.empty()) throw Error(ErrorCode::kInvalidArgument, std::string("store key: ") + field + " is empty");
  std::string out;
  for (char c : value) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '-') continue;
    if (!(std::isalnum(u) || c == '_' || c == '.' || c == '+')) {
      throw Error(ErrorCode::kInvalidArgument, std::string("store key: ") + field + " '" + value +
                                                   "' has a character other than letters, digits, '_', '-', '.', '+'");
    }
    out += static_cast<char>(std::tolower(u));
  }
  if (out.empty() || out == "." || out == "..") {
    throw Error(ErrorCode::kInvalidArgument, std::string("store key: ") + field + " '" + value + "' is not a name");
  }
  return out;
}

StoreKey NormalizeKey(const StoreKey& key) {
  StoreKey k = key;
  k.model = NormalizeKeyPart(key.model, "model");
  k.detector = NormalizeKeyPart(key.detector, "detector");
  k.normalization = NormalizeKeyPart(key.normalization, "normalization");
  k.expand_percentage = std::max(0, key.expand_percentage);  // DeepFace treats a negative value as 0
  return k;
}

std::string JoinPath(const std::string& dir, const std::string& rel) {
  if (dir.empty()) return rel;
  return dir.back() == '/' ? dir + rel : dir + "/" + rel;
}

std::string Hex(const uint8_t* bytes, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = kHex[bytes[i] >> 4];
    s[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return s;
}

bool IsImageName(const std::string& name) {
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp";
}

std::array<uint8_t, 32> HashFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIoError, "cannot open " + path + ": " + std::strerror(errno));
  rt::Sha256 h;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.Update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(ErrorCode::kIoError, "read error in " + path);
  return h.Finish();
}

struct ScannedFile {
  std::string rel;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

// Every image under root, sorted by relative path.
std::vector<ScannedFile> ScanFolder(const std::string& root) {
  std::vector<ScannedFile> out;
  std::error_code ec;
  const fs::path base(root);
  fs::recursive_directory_iterator it(base, fs::directory_options::skip_permission_denied, ec);
  if (ec) throw Error(ErrorCode::kIoError, "cannot list " + root + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw Error(ErrorCode::kIoError, "cannot list " + root + ": " + ec.message());
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec) && !it->is_symlink(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!IsImageName(name)) continue;
    struct stat st;
    if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // vanished, dangling link, not a file
    ScannedFile f;
    f.rel = p.lexically_relative(base).generic_string();
    f.size = static_cast<uint64_t>(st.st_size);
    f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    out.push_back(std::move(f));
  }
  if (ec) throw Error(ErrorCode::kIoError, "cannot list " + root + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const ScannedFile& a, const ScannedFile& b) { return a.rel < b.rel; });
  return out;
}

// Text from a file for an error message: control and non-ASCII bytes as '?'.
std::string Printable(const std::string& s) {
  std::string out = s.substr(0, 200);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return out;
}

// ----------------------------------------------------------------- encoding

class Writer {
 public:
  template <class T>
  void Put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    if constexpr (std::endian::native == std::endian::big) std::reverse(b, b + sizeof(T));
    bytes.insert(bytes.end(), b, b + sizeof(T));
  }
  void PutBytes(const void* p, size_t n) {
    const auto* u = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), u, u + n);
  }
  void PutFloats(const float* v, size_t n) {
    if constexpr (std::endian::native == std::endian::little) {
      PutBytes(v, n * sizeof(float));
    } else {
      for (size_t i = 0; i < n; ++i) Put<float>(v[i]);
    }
  }
  void PutString(const std::string& s) {
    Put<uint32_t>(static_cast<uint32_t>(s.size()));
    PutBytes(s.data(), s.size());
  }
  std::vector<uint8_t> bytes;
};

// Reading a store file: any inconsistency ends in BadStore(reason).
struct BadStore : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  template <class T>
  T Get(const char* what) {
    Need(sizeof(T), what);
    uint8_t b[sizeof(T)];
    std::memcpy(b, p_ + pos_, sizeof(T));
    if constexpr (std::endian::native == std::endian::big) std::reverse(b, b + sizeof(T));
    pos_ += sizeof(T);
    T v;
    std::memcpy(&v, b, sizeof(T));
    return v;
  }
  float GetFinite(const char* what) {
    const float v = Get<float>(what);
    if (!std::isfinite(v)) throw BadStore(std::string(what) + " is not finite at offset " + std::to_string(pos_ - 4));
    return v;
  }
  std::string GetString(const char* what) {
    const uint32_t len = Get<uint32_t>(what);
    Need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return s;
  }
  void GetBytes(void* out, size_t n, const char* what) {
    Need(n, what);
    std::memcpy(out, p_ + pos_, n);
    pos_ += n;
  }
  size_t remaining() const { return n_ - pos_; }
  size_t pos() const { return pos_; }

 private:
  void Need(size_t n, const char* what) {
    if (n > n_ - pos_) throw BadStore(std::string("unexpected end of data reading ") + what);
  }
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

// A relative path as we write it: non-empty, '/'-separated, no empty, "." or
// ".." segment, no NUL, not absolute.
bool ValidRelativePath(const std::string& rel) {
  if (rel.empty() || rel.front() == '/' || rel.back() == '/' || rel.find('\0') != std::string::npos) return false;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    const std::string seg = rel.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

// Writes bytes to a temporary file next to path and renames it over path.
// Returns "" on success, else the reason (the temporary file is removed).
std::string WriteAtomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + tmp + ": " + std::strerror(errno);
  std::string err;
  size_t done = 0;
  while (done < bytes.size() && err.empty()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = "cannot write " + tmp + ": " + std::strerror(errno);
    } else {
      done += static_cast<size_t>(w);
    }
  }
  if (err.empty() && ::fsync(fd) != 0) err = "cannot sync " + tmp + ": " + std::strerror(errno);
  if (::close(fd) != 0 && err.empty()) err = "cannot close " + tmp + ": " + std::strerror(errno);
  if (err.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
  }
  if (!err.empty()) ::unlink(tmp.c_str());
  return err;
}

// ----------------------------------------------------------------- progress

class ProgressBar {
 public:
  ProgressBar(bool enabled, size_t total) : enabled_(enabled && total > 0 && ::isatty(2)), total_(total) {
    Draw(0, true);
  }
  void Update(size_t done) { Draw(done, done == total_); }
  ~ProgressBar() {
    if (enabled_ && drawn_) std::fputc('\n', stderr);
  }

 private:
  void Draw(size_t done, bool force) {
    if (!enabled_) return;
    const double t = SecondsSince(start_);
    if (!force && t - last_ < 0.1) return;
    last_ = t;
    constexpr int kWidth = 30;
    const double frac = static_cast<double>(done) / static_cast<double>(total_);
    const int fill = static_cast<int>(frac * kWidth);
    char bar[kWidth + 1];
    for (int i = 0; i < kWidth; ++i) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[kWidth] = '\0';
    const double rate = t > 0 ? done / t : 0;
    char eta[32] = "--:--";
    if (rate > 0 && done < total_) {
      const long s = std::lround(static_cast<double>(total_ - done) / rate);
      std::snprintf(eta, sizeof eta, "%ld:%02ld", s / 60, s % 60);
    } else if (done == total_) {
      std::snprintf(eta, sizeof eta, "0:00");
    }
    std::fprintf(stderr, "\rEmbedding faces: %zu/%zu [%s] %3d%% %.1f files/s ETA %s   ", done, total_, bar,
                 static_cast<int>(frac * 100), rate, eta);
    std::fflush(stderr);
    drawn_ = true;
  }

  bool enabled_;
  size_t total_;
  Clock::time_point start_ = Clock::now();
  double last_ = -1;
  bool drawn_ = false;
};

}  // namespace

// Serialisation of the store state; a friend of FaceStore.
struct FaceStoreIo {
  using File = FaceStore::StoredFile;
  using Face = FaceStore::StoredFace;

  static std::vector<uint8_t> Serialize(const StoreKey& key, size_t dim, const std::vector<File>& files,
                                        const std::vector<float>& matrix) {
    std::vector<size_t> order(files.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return files[a].rel < files[b].rel; });
    uint64_t rows = 0;
    for (const File& f : files) rows += f.faces.size();
    Writer w;
    w.bytes.reserve(256 + matrix.size() * sizeof(float) + files.size() * 128);
    w.PutBytes(kStoreMagic, sizeof kStoreMagic);
    w.Put<uint32_t>(kStoreVersion);
    w.PutString(key.model);
    w.PutString(key.detector);
    w.Put<uint8_t>(key.align ? 1 : 0);
    w.PutString(key.normalization);
    w.Put<int32_t>(key.expand_percentage);
    w.PutString(key.fingerprint);
    w.Put<uint32_t>(static_cast<uint32_t>(dim));
    w.Put<uint64_t>(files.size());
    w.Put<uint64_t>(rows);
    for (size_t idx : order) {
      const File& f = files[idx];
      w.PutString(f.rel);
      w.Put<uint64_t>(f.size);
      w.Put<int64_t>(f.mtime_ns);
      w.PutBytes(f.sha256, sizeof f.sha256);
      w.PutString(f.error);
      w.Put<uint32_t>(static_cast<uint32_t>(f.faces.size()));
      for (const Face& face : f.faces) {
        w.Put<float>(face.target.x);
        w.Put<float>(face.target.y);
        w.Put<float>(face.target.w);
        w.Put<float>(face.target.h);
        w.Put<float>(face.confidence);
        w.Put<uint8_t>(face.row >= 0 ? 1 : 0);
        if (face.row >= 0) {
          w.PutFloats(matrix.data() + static_cast<size_t>(face.row) * dim, dim);
        }
      }
    }
    w.Put<uint64_t>(rt::DataChecksum(w.bytes.data(), w.bytes.size()));
    return std::move(w.bytes);
  }

  // Parses and checks a whole store file against `key`; BadStore on any
  // problem. Fills files (sorted), dim and matrix.
  static void Parse(const std::vector<uint8_t>& bytes, const StoreKey& key, std::vector<File>* files, size_t* dim,
                    std::vector<float>* matrix) {
    constexpr size_t kMinSize = sizeof kStoreMagic + 4 + kChecksumBytes;
    if (bytes.size() < kMinSize) {
      throw BadStore("file is truncated (" + std::to_string(bytes.size()) + " bytes)");
    }
    if (std::memcmp(bytes.data(), kStoreMagic, sizeof kStoreMagic) != 0) {
      throw BadStore("not a facelib face store (bad magic)");
    }
    Reader head(bytes.data() + sizeof kStoreMagic, 4);
    const uint32_t version = head.Get<uint32_t>("format version");
    if (version != kStoreVersion) {
      throw BadStore("format version " + std::to_string(version) + ", this build reads version " +
                     std::to_string(kStoreVersion));
    }
    const size_t body = bytes.size() - kChecksumBytes;
    Reader tail(bytes.data() + body, kChecksumBytes);
    if (tail.Get<uint64_t>("checksum") != rt::DataChecksum(bytes.data(), body)) {
      throw BadStore("checksum mismatch: the file is corrupt or truncated");
    }
    Reader r(bytes.data() + sizeof kStoreMagic + 4, body - sizeof kStoreMagic - 4);
    StoreKey k;
    k.model = r.GetString("key model");
    k.detector = r.GetString("key detector");
    const uint8_t align = r.Get<uint8_t>("key align");
    k.align = align != 0;
    k.normalization = r.GetString("key normalization");
    k.expand_percentage = r.Get<int32_t>("key expand");
    k.fingerprint = r.GetString("key fingerprint");
    auto differs = [](const char* field, const std::string& got, const std::string& want) {
      return BadStore(std::string("built for another configuration: ") + field + " '" + Printable(got) +
                      "', expected '" + Printable(want) + "'");
    };
    if (k.model != key.model) throw differs("model", k.model, key.model);
    if (k.detector != key.detector) throw differs("detector", k.detector, key.detector);
    if (align > 1 || k.align != key.align) {
      throw differs("align", std::to_string(align), key.align ? "1" : "0");
    }
    if (k.normalization != key.normalization) throw differs("normalization", k.normalization, key.normalization);
    if (k.expand_percentage != key.expand_percentage) {
      throw differs("expand_percentage", std::to_string(k.expand_percentage), std::to_string(key.expand_percentage));
    }
    if (k.fingerprint != key.fingerprint) throw differs("fingerprint", k.fingerprint, key.fingerprint);

    const uint32_t d = r.Get<uint32_t>("dim");
    if (d > kMaxDim) throw BadStore("embedding dimension " + std::to_string(d) + " is out of range");
    const uint64_t file_count = r.Get<uint64_t>("file count");
    const uint64_t row_count = r.Get<uint64_t>("row count");
    // Smallest possible file record: empty strings, one face without embedding.
    constexpr size_t kMinFileBytes = 4 + 8 + 8 + 32 + 4 + 4 + 21;
    if (file_count > r.remaining() / kMinFileBytes) {
      throw BadStore("file count " + std::to_string(file_count) + " exceeds the data");
    }
    files->clear();
    matrix->clear();
    files->reserve(file_count);
    uint64_t rows_seen = 0;
    for (uint64_t i = 0; i < file_count; ++i) {
      File f;
      f.rel = r.GetString("path");
      if (!ValidRelativePath(f.rel)) {
        throw BadStore("file " + std::to_string(i) + ": invalid path '" + Printable(f.rel) + "'");
      }
      if (!files->empty() && !(files->back().rel < f.rel)) {
        throw BadStore("file " + std::to_string(i) + ": '" + Printable(f.rel) + "' is out of order or duplicated");
      }
      f.size = r.Get<uint64_t>("file size");
      f.mtime_ns = r.Get<int64_t>("file mtime");
      r.GetBytes(f.sha256, sizeof f.sha256, "file hash");
      f.error = r.GetString("file error");
      const uint32_t faces = r.Get<uint32_t>("face count");
      if (faces == 0 || faces > r.remaining() / 21) {
        throw BadStore("file '" + Printable(f.rel) + "': face count " + std::to_string(faces) + " is out of range");
      }
      f.faces.resize(faces);
      for (Face& face : f.faces) {
        face.target.x = r.GetFinite("box x");
        face.target.y = r.GetFinite("box y");
        face.target.w = r.GetFinite("box w");
        face.target.h = r.GetFinite("box h");
        face.confidence = r.GetFinite("face confidence");
        const uint8_t has = r.Get<uint8_t>("embedding flag");
        if (has > 1) throw BadStore("file '" + Printable(f.rel) + "': bad embedding flag " + std::to_string(has));
        if (has) {
          if (d == 0) throw BadStore("file '" + Printable(f.rel) + "': an embedding in a store of dimension 0");
          if (static_cast<uint64_t>(d) * 4 > r.remaining()) throw BadStore("unexpected end of data reading embedding");
          face.row = static_cast<int64_t>(matrix->size() / d);
          const size_t at = matrix->size();
          matrix->resize(at + d);
          float* e = matrix->data() + at;
          if constexpr (std::endian::native == std::endian::little) {
            r.GetBytes(e, size_t{d} * 4, "embedding");
          } else {
            for (uint32_t j = 0; j < d; ++j) e[j] = r.Get<float>("embedding");
          }
          for (uint32_t j = 0; j < d; ++j) {
            if (!std::isfinite(e[j])) throw BadStore("file '" + Printable(f.rel) + "': embedding value is not finite");
          }
        }
      }
      rows_seen += faces;
      files->push_back(std::move(f));
    }
    if (rows_seen != row_count) {
      throw BadStore("row count " + std::to_string(row_count) + " in the header, " + std::to_string(rows_seen) +
                     " in the data");
    }
    if (r.remaining() != 0) throw BadStore(std::to_string(r.remaining()) + " unexpected bytes after the last file");
    *dim = d;
  }
};

std::string StoreFileName(const StoreKey& key) {
  const StoreKey k = NormalizeKey(key);
  return "ds_model_" + k.model + "_detector_" + k.detector + (k.align ? "_aligned" : "_unaligned") +
         "_normalization_" + k.normalization + "_expand_" + std::to_string(k.expand_percentage) + ".fls";
}

FaceStore::FaceStore(const std::string& db_path, const StoreKey& key) : db_path_(db_path), key_(NormalizeKey(key)) {
  std::error_code ec;
  const auto st = fs::status(db_path, ec);
  if (db_path.empty() || !fs::exists(st)) {
    throw Error(ErrorCode::kNotFound, "db_path '" + db_path + "' does not exist");
  }
  if (!fs::is_directory(st)) throw Error(ErrorCode::kNotFound, "db_path '" + db_path + "' is not a directory");
  store_path_ = JoinPath(db_path_, StoreFileName(key_));

  if (!fs::exists(fs::symlink_status(store_path_, ec))) return;  // first use
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(store_path_, std::ios::binary);
    const auto size = fs::file_size(store_path_, ec);
    if (!in || ec) {
      invalid_reason_ = store_path_ + ": cannot read: " + (ec ? ec.message() : std::string(std::strerror(errno)));
      return;
    }
    bytes.resize(size);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    if (static_cast<size_t>(in.gcount()) != size) {
      invalid_reason_ = store_path_ + ": read error";
      return;
    }
  }
  std::vector<StoredFile> files;
  std::vector<float> matrix;
  size_t dim = 0;
  try {
    FaceStoreIo::Parse(bytes, key_, &files, &dim, &matrix);
  } catch (const BadStore& e) {
    invalid_reason_ = store_path_ + ": " + e.what();
    return;
  }
  Install(std::move(files), dim, std::move(matrix));
}

std::string FaceStore::Identity(const std::string& rel) const { return JoinPath(db_path_, rel); }

void FaceStore::Install(std::vector<StoredFile> files, size_t dim, std::vector<float> matrix) {
  std::sort(files.begin(), files.end(), [](const StoredFile& a, const StoredFile& b) { return a.rel < b.rel; });
  const size_t rows = dim ? matrix.size() / dim : 0;
  if (dim ? matrix.size() % dim != 0 : !matrix.empty()) {
    throw Error(ErrorCode::kInternal, "face store: embedding matrix size does not match dimension");
  }
  std::vector<std::pair<uint32_t, uint32_t>> owner(rows, {UINT32_MAX, UINT32_MAX});
  size_t row_count = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    row_count += files[f].faces.size();
    for (size_t i = 0; i < files[f].faces.size(); ++i) {
      const int64_t row = files[f].faces[i].row;
      if (row < 0) continue;
      if (static_cast<size_t>(row) >= rows || owner[row].first != UINT32_MAX) {
        throw Error(ErrorCode::kInternal, "face store: embedding row " + std::to_string(row) + " is invalid");
      }
      owner[row] = {static_cast<uint32_t>(f), static_cast<uint32_t>(i)};
    }
  }
  for (const auto& o : owner) {
    if (o.first == UINT32_MAX) throw Error(ErrorCode::kInternal, "face store: an embedding row has no owner");
  }
  files_ = std::move(files);
  dim_ = rows ? dim : 0;
  matrix_ = std::move(matrix);
  owner_ = std::move(owner);
  row_count_ = row_count;
  norms_ = RowNorms(matrix_.data(), rows, dim_);
}

RefreshStats FaceStore::Refresh(const EmbedBatchFn& embed, size_t batch_size, bool progress) {
  const auto t0 = Clock::now();
  RefreshStats stats;
  if (!invalid_reason_.empty()) {
    stats.rebuilt = true;
    stats.rebuild_reason = invalid_reason_;
  }
  batch_size = std::max<size_t>(batch_size, 1);
  const std::vector<ScannedFile> scanned = ScanFolder(db_path_);
  if (scanned.empty()) throw Error(ErrorCode::kNotFound, "No item found in " + db_path_);

  // The new state: unchanged files first, then the embedded ones batch by batch.
  std::vector<StoredFile> next;
  std::vector<float> matrix;
  size_t dim = 0;
  next.reserve(scanned.size());
  auto keep = [&](const StoredFile& old, const ScannedFile& s) {
    StoredFile f = old;
    f.size = s.size;
    f.mtime_ns = s.mtime_ns;
    for (StoredFace& face : f.faces) {
      if (face.row < 0) continue;
      const float* e = matrix_.data() + static_cast<size_t>(face.row) * dim_;
      face.row = static_cast<int64_t>(dim ? matrix.size() / dim : 0);
      dim = dim_;
      matrix.insert(matrix.end(), e, e + dim_);
    }
    next.push_back(std::move(f));
  };
  auto failed_file = [&](const ScannedFile& s, const uint8_t* hash, std::string error) {
    StoredFile f;
    f.rel = s.rel;
    f.size = s.size;
    f.mtime_ns = s.mtime_ns;
    if (hash) std::memcpy(f.sha256, hash, sizeof f.sha256);
    if (error.empty()) error = "failed";
    if (error.size() > kMaxErrorText) error.resize(kMaxErrorText);
    f.error = std::move(error);
    f.faces.resize(1);
    ++stats.failed;
    next.push_back(std::move(f));
  };

  struct Pending {
    const ScannedFile* file;
    std::array<uint8_t, 32> hash;
  };
  std::vector<Pending> pending;
  std::vector<std::pair<const StoredFile*, const ScannedFile*>> kept;
  bool dirty = stats.rebuilt;
  size_t j = 0;
  for (const ScannedFile& s : scanned) {
    while (j < files_.size() && files_[j].rel < s.rel) ++stats.removed, ++j;
    const StoredFile* old = j < files_.size() && files_[j].rel == s.rel ? &files_[j++] : nullptr;
    if (old && old->size == s.size && old->mtime_ns == s.mtime_ns) {
      ++stats.unchanged;
      kept.emplace_back(old, &s);
      continue;
    }
    dirty = true;
    std::array<uint8_t, 32> hash;
    try {
      hash = HashFile(Identity(s.rel));
    } catch (const Error& e) {
      ++(old ? stats.changed : stats.added);
      failed_file(s, nullptr, e.what());
      continue;
    }
    if (old && std::memcmp(old->sha256, hash.data(), hash.size()) == 0) {
      ++stats.unchanged;  // touched, same bytes
      kept.emplace_back(old, &s);
      continue;
    }
    ++(old ? stats.changed : stats.added);
    pending.push_back({&s, hash});
  }
  stats.removed += files_.size() - j;
  if (stats.removed) dirty = true;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(store_path_, ec))) dirty = true;  // deleted behind our back
  if (!dirty) {  // the folder matches the store exactly
    invalid_reason_.clear();
    stats.seconds = SecondsSince(t0);
    return stats;
  }
  for (const auto& [old, s] : kept) keep(*old, *s);

  auto install_and_save = [&]() {
    invalid_reason_.clear();
    Install(std::move(next), dim, std::move(matrix));
    stats.save_error = WriteAtomically(store_path_, FaceStoreIo::Serialize(key_, dim_, files_, matrix_));
    stats.saved = stats.save_error.empty();
  };

  ProgressBar bar(progress, pending.size());
  auto last_save = Clock::now();
  try {
    for (size_t b0 = 0; b0 < pending.size(); b0 += batch_size) {
      const size_t b1 = std::min(pending.size(), b0 + batch_size);
      std::vector<std::string> paths;
      for (size_t i = b0; i < b1; ++i) paths.push_back(Identity(pending[i].file->rel));
      ++stats.batches;
      stats.embedded_files += paths.size();
      std::vector<FileEmbeddings> results = embed(paths);
      if (results.size() != paths.size()) {
        throw Error(ErrorCode::kInvalidArgument, "embed callback returned " + std::to_string(results.size()) +
                                                     " results for " + std::to_string(paths.size()) + " files");
      }
      for (size_t i = b0; i < b1; ++i) {
        const ScannedFile& s = *pending[i].file;
        FileEmbeddings& r = results[i - b0];
        if (!r.error.empty()) {
          failed_file(s, pending[i].hash.data(), r.error);
          continue;
        }
        std::string bad;
        for (const FaceRecord& face : r.faces) {
          if (face.embedding.empty()) continue;
          const size_t d = face.embedding.size();
          if (d > kMaxDim) {
            throw Error(ErrorCode::kInvalidArgument, "embedding of " + paths[i - b0] + " has " + std::to_string(d) +
                                                         " dimensions, more than " + std::to_string(kMaxDim));
          }
          if (dim != 0 && d != dim) {
            throw Error(ErrorCode::kInvalidArgument, "embedding of " + paths[i - b0] + " has " + std::to_string(d) +
                                                         " dimensions but the store holds " + std::to_string(dim) +
                                                         "-dimensional embeddings");
          }
          for (float v : face.embedding) {
            if (!std::isfinite(v)) bad = "embedding has non-finite values";
          }
          const Box& t = face.target;
          if (!std::isfinite(t.x) || !std::isfinite(t.y) || !std::isfinite(t.w) || !std::isfinite(t.h) ||
              !std::isfinite(face.confidence)) {
            bad = "face box or confidence is not finite";
          }
        }
        if (!bad.empty()) {
          failed_file(s, pending[i].hash.data(), bad);
          continue;
        }
        StoredFile f;
        f.rel = s.rel;
        f.size = s.size;
        f.mtime_ns = s.mtime_ns;
        std::memcpy(f.sha256, pending[i].hash.data(), sizeof f.sha256);
        for (const FaceRecord& face : r.faces) {
          StoredFace sf;
          sf.target = face.target;
          sf.confidence = face.confidence;
          if (!face.embedding.empty()) {
            dim = face.embedding.size();
            sf.row = static_cast<int64_t>(matrix.size() / dim);
            matrix.insert(matrix.end(), face.embedding.begin(), face.embedding.end());
          }
          f.faces.push_back(sf);
        }
        if (f.faces.empty()) f.faces.resize(1);  // no face: one row without embedding
        next.push_back(std::move(f));
      }
      bar.Update(b1);
      if (b1 < pending.size() && SecondsSince(last_save) >= kCheckpointSeconds) {
        const std::string err = WriteAtomically(store_path_, FaceStoreIo::Serialize(key_, dim, next, matrix));
        if (err.empty()) last_save = Clock::now();
      }
    }
  } catch (...) {
    // Keep the files completed so far, in memory and on disk; the rest are
    // found again by the next Refresh.
    try {
      install_and_save();
    } catch (...) {
    }
    throw;
  }
  install_and_save();
  stats.seconds = SecondsSince(t0);
  return stats;
}

std::vector<FaceStore::Match> FaceStore::Search(const std::vector<float>& query, Metric metric, float threshold,
                                                int k, bool similarity_search, int num_threads) const {
  if (query.empty()) throw Error(ErrorCode::kInvalidArgument, "query embedding is empty");
  for (float v : query) {
    if (!std::isfinite(v)) throw Error(ErrorCode::kInvalidArgument, "query embedding has non-finite values");
  }
  if (!similarity_search && std::isnan(threshold)) {
    throw Error(ErrorCode::kInvalidArgument, "threshold is NaN");
  }
  const size_t n = owner_.size();
  if (n == 0) return {};
  if (query.size() != dim_) {
    throw Error(ErrorCode::kInvalidArgument, "query embedding has " + std::to_string(query.size()) +
                                                 " dimensions but " + store_path_ + " holds " +
                                                 std::to_string(dim_) + "-dimensional embeddings");
  }
  const int threads =
      num_threads > 0 ? num_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<float> dist(n);
  Distances(metric, query.data(), matrix_.data(), norms_.data(), n, dim_, dist.data(), threads);

  std::vector<uint32_t> hits;
  hits.reserve(similarity_search ? n : 64);
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(dist[i])) continue;
    if (similarity_search || dist[i] <= threshold) hits.push_back(static_cast<uint32_t>(i));
  }
  // Files are sorted by relative path, so (file index, face index) orders ties
  // by identity, then by face.
  auto before = [&](uint32_t a, uint32_t b) {
    if (dist[a] != dist[b]) return dist[a] < dist[b];
    return owner_[a] < owner_[b];
  };
  if (k > 0 && static_cast<size_t>(k) < hits.size()) {
    std::partial_sort(hits.begin(), hits.begin() + k, hits.end(), before);
    hits.resize(static_cast<size_t>(k));
  } else {
    std::sort(hits.begin(), hits.end(), before);
  }
  std::vector<Match> out;
  out.reserve(hits.size());
  for (uint32_t i : hits) {
    const StoredFile& f = files_[owner_[i].first];
    const StoredFace& face = f.faces[owner_[i].second];
    Match m;
    m.identity = Identity(f.rel);
    m.hash = Hex(f.sha256, sizeof f.sha256);
    m.target = face.target;
    m.face_confidence = face.confidence;
    m.distance = dist[i];
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace facelib
