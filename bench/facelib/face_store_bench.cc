// BM_FaceStoreSearch: FaceStore::Search (all rows in one SIMD pass, filter,
// sort, result rows) with the cosine metric over synthetic stores of N rows x
// D dims; args {N, D, threads, mode}: mode 0 = find with a threshold (0.75,
// a few hundred hits per 100k rows at D=128, none at D=512), mode 1 =
// similarity search for the top 10. The store file is written here from the format documented in
// facelib/face_store.h and loaded by FaceStore, so Search runs on exactly what
// a real folder would give. Counters: rows/s, and GB/s of embeddings streamed.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "facelib/face_store.h"
#include "runtime/model_file.h"

namespace {

namespace fs = std::filesystem;

template <class T>
void Put(std::vector<uint8_t>* b, T v) {
  const size_t at = b->size();
  b->resize(at + sizeof(T));
  std::memcpy(b->data() + at, &v, sizeof(T));
}
void PutString(std::vector<uint8_t>* b, const std::string& s) {
  Put<uint32_t>(b, static_cast<uint32_t>(s.size()));
  b->insert(b->end(), s.begin(), s.end());
}

// A store of `rows` files with one face each; embeddings ~ N(0, 1) per element.
std::unique_ptr<facelib::FaceStore> MakeStore(size_t rows, size_t dim) {
  const facelib::StoreKey key{"Bench", "none", true, "base", 0, ""};
  const fs::path dir = fs::temp_directory_path() /
                       ("facelib_store_bench_" + std::to_string(::getpid()) + "_" + std::to_string(rows) + "_" +
                        std::to_string(dim));
  fs::create_directories(dir);
  std::vector<uint8_t> b = {'F', 'A', 'C', 'E', 'L', 'I', 'B', 'S'};
  b.reserve(rows * (dim * 4 + 100) + 200);
  Put<uint32_t>(&b, 1);
  PutString(&b, "bench");
  PutString(&b, "none");
  Put<uint8_t>(&b, 1);
  PutString(&b, "base");
  Put<int32_t>(&b, 0);
  PutString(&b, "");
  Put<uint32_t>(&b, static_cast<uint32_t>(dim));
  Put<uint64_t>(&b, rows);
  Put<uint64_t>(&b, rows);
  std::mt19937 rng(42);
  std::normal_distribution<float> g(0.f, 1.f);
  for (size_t i = 0; i < rows; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "p%07zu/img.jpg", i);  // sorted order
    PutString(&b, name);
    Put<uint64_t>(&b, 1000 + i);
    Put<int64_t>(&b, 1);
    b.insert(b.end(), 32, static_cast<uint8_t>(i));
    PutString(&b, "");
    Put<uint32_t>(&b, 1);
    for (float v : {10.f, 20.f, 100.f, 120.f, 0.99f}) Put<float>(&b, v);
    Put<uint8_t>(&b, 1);
    for (size_t k = 0; k < dim; ++k) Put<float>(&b, g(rng));
  }
  Put<uint64_t>(&b, facelib::rt::DataChecksum(b.data(), b.size()));
  const std::string path = (dir / facelib::StoreFileName(key)).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
  auto store = std::make_unique<facelib::FaceStore>(dir.string(), key);
  fs::remove_all(dir);
  if (!store->invalid_reason().empty() || store->embeddings() != rows) {
    throw std::runtime_error("bench store not loaded: " + store->invalid_reason());
  }
  return store;
}

const facelib::FaceStore& Store(size_t rows, size_t dim) {
  static std::map<std::pair<size_t, size_t>, std::unique_ptr<facelib::FaceStore>> cache;
  auto& s = cache[{rows, dim}];
  if (!s) s = MakeStore(rows, dim);
  return *s;
}

void BM_FaceStoreSearch(benchmark::State& state) {
  const size_t rows = static_cast<size_t>(state.range(0)), dim = static_cast<size_t>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  const bool similarity = state.range(3) == 1;
  const facelib::FaceStore& store = Store(rows, dim);
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> query(dim);
  for (float& v : query) v = g(rng);
  size_t hits = 0;
  for (auto _ : state) {
    auto matches = store.Search(query, facelib::Metric::kCosine, 0.75f, similarity ? 10 : 0, similarity, threads);
    hits = matches.size();
    benchmark::DoNotOptimize(matches.data());
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(rows * dim * 4) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["hits"] = static_cast<double>(hits);
}
BENCHMARK(BM_FaceStoreSearch)
    ->ArgsProduct({{1000, 100000}, {128, 512}, {1, 2}, {0, 1}})
    ->ArgNames({"rows", "dim", "threads", "mode"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
