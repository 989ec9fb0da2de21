#include "models/zoo.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace facelib::models {
namespace {

// Rows of models/zoo.tsv (name, task).
std::vector<std::pair<std::string, std::string>> ZooTsv() {
  std::ifstream f(std::string(FACELIB_SOURCE_DIR) + "/models/zoo.tsv");
  EXPECT_TRUE(f.good());
  std::vector<std::pair<std::string, std::string>> rows;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("name\t", 0) == 0) continue;
    std::stringstream ss(line);
    std::string name, task;
    std::getline(ss, name, '\t');
    std::getline(ss, task, '\t');
    rows.push_back({name, task});
  }
  return rows;
}

TEST(ZooTest, RegistryAndSetupTableAgree) {
  std::set<std::string> in_tsv;
  for (const auto& [name, task] : ZooTsv()) {
    in_tsv.insert(name);
    const ModelInfo* m = FindModel(name);
    ASSERT_NE(m, nullptr) << name << " is in models/zoo.tsv but not in models/zoo.cc";
    EXPECT_EQ(task, TaskName(m->task)) << name;
  }
  for (const ModelInfo& m : Zoo())
    EXPECT_TRUE(in_tsv.count(m.name)) << m.name << " is in models/zoo.cc but has no conversion in models/zoo.tsv";
}

TEST(ZooTest, EntriesAreUsable) {
  std::set<std::string> names;
  for (const ModelInfo& m : Zoo()) {
    EXPECT_TRUE(names.insert(m.name).second) << "duplicate " << m.name;
    EXPECT_TRUE(m.input.channels == 1 || m.input.channels == 3) << m.name;
    EXPECT_EQ(m.input.channels == 1, m.input.color == ColorOrder::kGray) << m.name;
    EXPECT_TRUE((m.input.width > 0) == (m.input.height > 0)) << m.name;
    for (float s : m.input.scale) EXPECT_GT(s, 0.0f) << m.name;
  }
  const ModelInfo* emotion = FindModel("human_emotion");
  ASSERT_NE(emotion, nullptr);
  EXPECT_EQ(emotion->labels.front(), "angry");
  EXPECT_EQ(emotion->labels.back(), "neutral");
  EXPECT_EQ(FindModel("no-such-model"), nullptr);
}

}  // namespace
}  // namespace facelib::models
