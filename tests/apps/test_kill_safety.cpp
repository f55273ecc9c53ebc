// Kill-safe checkpoints: train_imagenet runs in a child process and is killed with SIGKILL at
// random moments, again and again (each run resuming from the newest checkpoint), often in the
// middle of a checkpoint write. After every kill the newest checkpoint on disk must load
// completely, its step must not go backwards, and once a checkpoint existed one must still exist.
// The last one must resume. DSVD_KILL_TEST_KILLS sets the number of kills (default 20;
// tools/kill-test runs 200).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "datasets/image.h"
#include "nn/safetensors.h"
#include "tests/test_util.h"

extern char** environ;

using namespace dsvd;
namespace fs = std::filesystem;

namespace {

std::string train_imagenet_binary() {
  const char* env = std::getenv("DSVD_TRAIN_IMAGENET");
  return env && *env ? env : DSVD_TRAIN_IMAGENET;
}

// A 2-class ImageFolder of 16x16 PNGs (8 train, 2 val images per class).
void make_tiny_folder(const fs::path& root) {
  Generator gen(9);
  for (const char* split : {"train", "val"})
    for (int k = 0; k < 2; ++k)
      for (int i = 0; i < (std::string(split) == "train" ? 8 : 2); ++i) {
        Tensor noise = randint(0, 50, {16 * 16 * 3}, DType::Int64, &gen);
        Image img{16, 16, std::vector<uint8_t>(16 * 16 * 3)};
        for (size_t p = 0; p < img.pixels.size(); ++p)
          img.pixels[p] = uint8_t((p % 3 == size_t(k) ? 170 : 50) + noise.data<int64_t>()[p]);
        fs::path dir = root / split / ("c" + std::to_string(k));
        fs::create_directories(dir);
        write_file((dir / ("i" + std::to_string(i) + ".png")).string(), encode_png(img));
      }
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  // One thread per child: the test's point is checkpoint safety, and OpenMP threads that spin on a
  // loaded 2-core machine make a tiny run ten times slower.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::string(*e).rfind("OMP_NUM_THREADS=", 0) != 0) env_strings.push_back(*e);
  env_strings.push_back("OMP_NUM_THREADS=1");
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "cannot start " << args[0] << ": " << std::strerror(rc));
  return pid;
}

int64_t checkpoint_step(const std::string& path) {
  nn::SafetensorsFile f = nn::load_safetensors(path);  // every tensor read and checked
  REQUIRE(f.tensors.size() > 0);
  return std::stoll(f.metadata.at("step"));
}

}  // namespace

TEST_CASE("checkpoints: SIGKILL at random moments never leaves a broken or missing checkpoint") {
  REQUIRE_MESSAGE(fs::exists(train_imagenet_binary()), "train_imagenet not built at " << train_imagenet_binary());
  const char* env = std::getenv("DSVD_KILL_TEST_KILLS");
  const int kills = env ? std::atoi(env) : 20;
  std::string t = (fs::temp_directory_path() / "dsvd_kill_XXXXXX").string();
  const fs::path root = mkdtemp(t.data());
  make_tiny_folder(root / "data");
  const std::string out = (root / "out").string(), ckpt = out + "/checkpoint.safetensors";
  std::vector<std::string> base = {train_imagenet_binary(), "--data", (root / "data").string(), "--image-size", "16",
                                   "--stem", "small", "--width", "0.125", "--head", "svd-pade", "--head-dim", "4",
                                   "--batch-size", "4", "--workers", "0", "--epochs", "1000000", "--print-freq",
                                   "1000000", "--out", out, "--arch", "resnet18"};
  std::mt19937 rng(12345);
  int64_t last_step = -1;
  bool had_checkpoint = false;
  int during_write = 0, resumed = 0;
  double window_ms = 0;  // kills land uniformly in [0, window]: twice the time to a first checkpoint
  for (int k = 0; k < kills; ++k) {
    CAPTURE(k);
    std::vector<std::string> args = base;
    if (fs::exists(ckpt)) {
      args.insert(args.end(), {"--resume", ckpt});
      ++resumed;
    }
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = spawn(args);
    if (k == 0) {  // let the first run write a checkpoint (however loaded the machine is), and time it
      while (!fs::exists(ckpt) && std::chrono::steady_clock::now() - start < std::chrono::seconds(120))
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      window_ms = 2 * std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    } else {
      std::uniform_real_distribution<double> delay(0, window_ms);
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay(rng)));
    }
    bool writing = false;
    for (const auto& e : fs::directory_iterator(out))
      writing |= e.path().filename().string().find(".tmp.") != std::string::npos;
    REQUIRE(kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the child ended before the kill (status " << status << ")");
    during_write += writing;
    if (had_checkpoint) REQUIRE_MESSAGE(fs::exists(ckpt), "the checkpoint disappeared after kill " << k);
    if (!fs::exists(ckpt)) continue;
    int64_t step = checkpoint_step(ckpt);
    REQUIRE_MESSAGE(step >= last_step, "the checkpoint went back from step " << last_step << " to " << step);
    last_step = step;
    had_checkpoint = true;
    // Writers killed mid-write leave temporary files; the next run removes them.
    int temporaries = 0;
    for (const auto& e : fs::directory_iterator(out)) temporaries += e.path().filename().string().find(".tmp.") != std::string::npos;
    CHECK(temporaries <= 2);
  }
  MESSAGE(kills << " kills, " << resumed << " runs resumed, " << during_write
                << " kills while a checkpoint write was under way; last checkpoint at step " << last_step);
  REQUIRE(had_checkpoint);
  // The newest checkpoint resumes: evaluate from it in a child that runs to completion.
  std::vector<std::string> eval = base;
  eval.insert(eval.end(), {"--resume", ckpt, "--evaluate"});
  pid_t pid = spawn(eval);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  fs::remove_all(root);
}
