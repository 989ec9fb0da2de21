// The face store behind `find`: the embeddings of every face in an image
// folder, kept in one file inside that folder and brought up to date
// incrementally, plus exact nearest-neighbour search over them.
//
// Folder scan. db_path is walked recursively; files whose extension is .jpg,
// .jpeg, .png or .bmp (any case) are images. Hidden entries (name starting
// with '.') are skipped, files and directories alike; symbolic links to files
// are followed, links to directories are not (no cycles). An image's identity
// is db_path joined with its path relative to db_path ("db" + "a/b.jpg" ->
// "db/a/b.jpg"), as DeepFace reports it. The store keeps relative paths, so
// the folder may be moved or renamed without invalidating it.
//
// Change detection (Refresh). A file whose size and modification time (ns)
// equal the stored ones is unchanged. Otherwise its SHA-256 is computed: equal
// to the stored hash -> unchanged (only touched; the new time is recorded),
// different -> changed. Only added and changed files are embedded, in batches
// through the caller's EmbedBatchFn. Every file yields at least one row: one
// per face, or one row without embedding when no face was found or the file
// failed (as DeepFace stores None). A failed file is not retried until its
// contents change.
//
// Store file: <db_path>/StoreFileName(key), little-endian binary:
//   "FACELIBS", u32 format version, key (model, detector, align,
//   normalization, expand, fingerprint), u32 dim, u64 file count, u64 row
//   count, then per file: relative path, size, mtime ns, SHA-256, error text,
//   u32 face count, per face: box x,y,w,h, confidence, u8 has_embedding,
//   [dim floats]; last 8 bytes: rt::DataChecksum of everything before them.
// It is written to a temporary file and renamed over the old one: when
// something changed, every minute during a long Refresh, and when the embed
// callback throws (the files done so far are kept; the others are picked up
// by the next Refresh). A file that is truncated, corrupt, foreign (bad
// magic, other key or fingerprint), of another format version or internally
// inconsistent is never used: Refresh rebuilds from scratch and reports why
// (rebuilt, rebuild_reason). When the folder is not writable, Refresh still
// succeeds with the rows in memory and reports the failure in
// RefreshStats::save_error.
//
// Progress: with progress = true and stderr a terminal, Refresh draws a bar on
// stderr while embedding (files done / total, files/s, ETA); otherwise it
// prints nothing.
//
// Thread safety: Search and the accessors are const and may run concurrently
// with each other. Refresh mutates the store and must not run concurrently
// with any other call on the same object. Two processes refreshing the same
// folder at once each write a complete file (the last rename wins).
//
// Errors: facelib::Error. kNotFound: db_path is not a directory, or it holds
// no image ("No item found in <db_path>"). kInvalidArgument: bad key, empty or
// non-finite query, NaN threshold, query or embedding dimensions that disagree
// (the message names both), a callback result of the wrong length. A
// callback embedding with NaN or infinite values makes that file failed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "facelib/distance.h"
#include "facelib/face.h"

namespace facelib {

// What the stored embeddings depend on. model, detector and normalization
// are compared case-insensitively without hyphens ("VGG-Face" == "vggface").
struct StoreKey {
  std::string model;                  // e.g. "Facenet512"
  std::string detector;               // e.g. "yunet"
  bool align = true;
  std::string normalization = "base";
  int expand_percentage = 0;         // negative counts as 0, as in DeepFace
  // Anything else the embeddings depend on (e.g. the model file's SHA-256).
  // Stored and compared, not part of the file name: a change rebuilds.
  std::string fingerprint;
};

// "ds_model_<model>_detector_<detector>_<aligned|unaligned>_normalization_
// <normalization>_expand_<expand>.fls", lower case, hyphens removed (DeepFace's
// naming with our extension). kInvalidArgument when model, detector or
// normalization is empty or has characters other than letters, digits, '_',
// '-', '.' and '+'.
std::string StoreFileName(const StoreKey& key);

// One face found in a folder image.
struct FaceRecord {
  Box target;                    // face box in the image
  float confidence = 0;          // detector confidence
  std::vector<float> embedding;  // empty: no embedding (the row is never matched)
};

// The callback's answer for one file: faces (empty = no face found), or error
// non-empty when the file could not be processed (undecodable image, ...).
struct FileEmbeddings {
  std::vector<FaceRecord> faces;
  std::string error;
};

// Embeds a batch of image files (paths as identities, see above); must return
// exactly one FileEmbeddings per path, in order. An exception thrown here
// aborts Refresh (after saving the files completed so far) and propagates.
using EmbedBatchFn = std::function<std::vector<FileEmbeddings>(const std::vector<std::string>& paths)>;

struct RefreshStats {
  size_t added = 0, removed = 0, changed = 0, unchanged = 0;  // files
  size_t failed = 0;          // of added + changed: unreadable, callback error or non-finite values
  size_t embedded_files = 0;  // files passed to the callback (added + changed)
  size_t batches = 0;         // callback invocations
  double seconds = 0;
  bool rebuilt = false;       // the existing store file could not be used
  std::string rebuild_reason;
  bool saved = false;         // the store file was (re)written
  std::string save_error;     // non-empty: writing failed; the rows live in memory only
};

class FaceStore {
 public:
  // Opens the folder and loads its store file if there is one (a bad file is
  // only noted here; see invalid_reason()). Does not scan the folder.
  FaceStore(const std::string& db_path, const StoreKey& key);

  // Synchronises the store with the folder (see the header comment).
  // batch_size 0 is treated as 1.
  RefreshStats Refresh(const EmbedBatchFn& embed, size_t batch_size = 32, bool progress = true);

  struct Match {
    std::string identity;  // db_path joined with the relative path
    std::string hash;      // SHA-256 of the file, hex
    Box target;            // the face in that file
    float face_confidence = 0;
    float distance = 0;
  };

  // Exact search over every row with an embedding. Keeps rows with distance
  // <= threshold unless similarity_search, sorts by ascending distance (ties:
  // identity, then face order in the file), returns the first k (k <= 0: all).
  // Rows whose distance is NaN are dropped. num_threads: 0 = all cores.
  std::vector<Match> Search(const std::vector<float>& query, Metric metric, float threshold, int k,
                            bool similarity_search, int num_threads = 0) const;

  size_t size() const { return row_count_; }           // rows, with and without embedding
  size_t embeddings() const { return owner_.size(); }  // rows with an embedding
  size_t files() const { return files_.size(); }
  size_t dim() const { return dim_; }                  // 0 until an embedding is stored
  const std::string& db_path() const { return db_path_; }
  const std::string& store_path() const { return store_path_; }
  // Why the store file found at construction was not used ("" if it was
  // used or absent). Cleared by the next successful Refresh.
  const std::string& invalid_reason() const { return invalid_reason_; }

 private:
  friend struct FaceStoreIo;
  struct StoredFace {
    Box target;
    float confidence = 0;
    int64_t row = -1;  // index into matrix_, -1 = no embedding
  };
  struct StoredFile {
    std::string rel;  // path relative to db_path, '/'-separated
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    uint8_t sha256[32] = {};
    std::string error;              // non-empty: the file failed
    std::vector<StoredFace> faces;  // at least one
  };

  std::string Identity(const std::string& rel) const;
  // Takes a new state (files in any order), sorts it and derives the search
  // tables.
  void Install(std::vector<StoredFile> files, size_t dim, std::vector<float> matrix);

  std::string db_path_, store_path_;
  StoreKey key_;                    // normalised
  std::string invalid_reason_;
  std::vector<StoredFile> files_;   // sorted by rel
  size_t dim_ = 0;
  size_t row_count_ = 0;
  std::vector<float> matrix_;       // embeddings, owner_.size() x dim_
  std::vector<float> norms_;        // per embedding row
  std::vector<std::pair<uint32_t, uint32_t>> owner_;  // per embedding row: file index, face index
};

}  // namespace facelib
