// Tensor metadata, factories, copies and conversions, against values written out by hand.
#include "tensor/cpu_allocator.h"
#include "tensor/device_backend.h"
#include "tensor/device_graph.h"
#include "tests/test_util.h"

using namespace dsvd;

TEST_CASE("tensor: factories give the documented values, shapes and strides") {
  Tensor z = zeros({2, 3}, DType::Float64);
  CHECK(z.sizes() == Shape{2, 3});
  CHECK(z.strides() == Shape{3, 1});
  CHECK(z.numel() == 6);
  CHECK(z.is_contiguous());
  CHECK_CLOSE(z, std::vector<double>(6, 0.0));
  CHECK_CLOSE(ones({4}, DType::Int64), std::vector<double>(4, 1.0));
  CHECK_CLOSE(full({2, 2}, 2.5, DType::Float32), std::vector<double>(4, 2.5));
  CHECK_CLOSE(arange(5), std::vector<double>{0, 1, 2, 3, 4});
  CHECK(arange(5).dtype() == DType::Int64);
  CHECK_CLOSE(arange(1.0, 2.0, 0.25, DType::Float64), std::vector<double>{1, 1.25, 1.5, 1.75});
  CHECK(arange(3.0, 1.0, 1.0).numel() == 0);
  CHECK_CLOSE(eye(3, DType::UInt8), std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  Tensor s = scalar_tensor(7.0, DType::Float64);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 7.0);
}

TEST_CASE("tensor: fill_ writes every element in place; a graph cannot be recorded on the CPU") {
  Tensor t = zeros({2, 3}, DType::Float64);
  const void* where = t.data_ptr();
  fill_(t, -2.5);
  CHECK(t.data_ptr() == where);
  CHECK(to_vector(t) == std::vector<double>(6, -2.5));
  Tensor i = zeros({4}, DType::Int64);
  fill_(i, 7);
  CHECK(to_vector(i) == std::vector<double>(4, 7.0));
  CHECK_THROWS_WITH_AS(fill_(t.transpose(0, 1), 1.0), doctest::Contains("contiguous"), Error);
  fill_(zeros({3, 0}), 1.0);  // nothing to write
  CHECK(ones({3, 0}).numel() == 0);
  CHECK_FALSE(is_capturing(Device::cpu()));
  bool ran = false;
  CHECK_THROWS_WITH_AS(DeviceGraph::capture(Device::cpu(), [&] { ran = true; }), doctest::Contains("need a GPU"),
                       Error);
  CHECK_FALSE(ran);  // refused before any work
  CHECK_THROWS_WITH_AS(DeviceGraph().replay(), doctest::Contains("holds nothing"), Error);
}

TEST_CASE("tensor: clone, contiguous and to(dtype) copy values, not storage") {
  Tensor a = arange(0.0, 6.0, 1.0, DType::Float64).reshape({2, 3});
  Tensor c = a.clone();
  CHECK(!c.shares_storage_with(a));
  CHECK_CLOSE(c, a);
  CHECK(a.contiguous().shares_storage_with(a));  // already contiguous: itself
  Tensor t = a.t();
  CHECK(!t.is_contiguous());
  Tensor tc = t.contiguous();
  CHECK(tc.is_contiguous());
  CHECK_CLOSE(tc, std::vector<double>{0, 3, 1, 4, 2, 5});

  Tensor f = from_vector({-1.5, 0.25, 3.75, 255}, {4}, DType::Float64);
  CHECK(f.to(DType::Float32).dtype() == DType::Float32);
  CHECK_CLOSE(f.to(DType::Float32), std::vector<double>{-1.5, 0.25, 3.75, 255});
  CHECK_CLOSE(f.to(DType::Int64), std::vector<double>{-1, 0, 3, 255});  // truncation toward zero, as C++
  CHECK_CLOSE(f.narrow(0, 1, 3).to(DType::UInt8), std::vector<double>{0, 3, 255});
  CHECK(f.to(DType::Float64).shares_storage_with(f));
}

TEST_CASE("tensor: item and bad uses raise dsvd::Error naming the problem") {
  CHECK(from_vector({4.5}, {1, 1}).item() == 4.5);
  CHECK_THROWS_WITH_AS(zeros({2}).item(), doctest::Contains("only a tensor with one element"), Error);
  CHECK_THROWS_WITH_AS(Tensor().sizes(), doctest::Contains("undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(zeros({-1}), doctest::Contains("negative size"), Error);
  CHECK_THROWS_WITH_AS(zeros({2}).size(3), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(zeros({2}, DType::Int64).requires_grad_(), doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(zeros({2}).data<double>(), doctest::Contains("float32"), Error);
}

TEST_CASE("tensor: allocations that cannot be satisfied raise dsvd::Error with the size") {
  // 2^62 float32 elements: the byte count overflows 64 bits.
  CHECK_THROWS_WITH_AS(empty({int64_t(1) << 31, int64_t(1) << 31}), doctest::Contains("bytes"), Error);
  // A product of sizes that overflows int64.
  CHECK_THROWS_WITH_AS(empty({int64_t(1) << 40, int64_t(1) << 40}), doctest::Contains("more elements"), Error);
  // 10^13 float32 elements = 40 TB: the allocator refuses it.
  CHECK_THROWS_WITH_AS(empty({10000000, 1000000}), doctest::Contains("out of memory"), Error);
}

TEST_CASE("tensor: mid-sized freed blocks (64 KiB to 1 MiB) are reused too, page-rounded") {
  // A (32, 64, 64) float32 tensor is 512 KiB: the matrix-function layer's temporaries in float32.
  // Left to glibc they went back to the kernel on free and cost fresh page faults each time.
  release_cpu_cache();
  CpuAllocatorStats before = cpu_allocator_stats();
  const void* first_address;
  {
    Tensor t = empty({32, 64, 64}, DType::Float32);
    first_address = t.data_ptr();
  }
  CHECK(cpu_allocator_stats().cached_bytes == size_t(512) << 10);
  Tensor again = empty({32, 64, 64}, DType::Float32);
  CHECK(again.data_ptr() == first_address);
  CHECK(cpu_allocator_stats().cache_hits == before.cache_hits + 1);
  // 64 KiB + 1 float rounds to the next 4 KiB page; under 64 KiB nothing is cached.
  { Tensor odd = empty({16 * 1024 + 1}, DType::Float32); }
  CHECK(cpu_allocator_stats().cached_bytes == size_t(68) << 10);
  { Tensor tiny = empty({1024}, DType::Float32); }
  CHECK(cpu_allocator_stats().cached_bytes == size_t(68) << 10);
  release_cpu_cache();
}

TEST_CASE("tensor: large freed blocks are reused from the CPU cache") {
  release_cpu_cache();
  CpuAllocatorStats before = cpu_allocator_stats();
  const void* first_address;
  {
    Tensor big = empty({1 << 20}, DType::Float64);  // 8 MiB
    first_address = big.data_ptr();
  }
  CHECK(cpu_allocator_stats().cached_bytes >= size_t(8) << 20);
  Tensor again = empty({(1 << 20) - 100}, DType::Float64);  // slightly smaller: same block
  CHECK(again.data_ptr() == first_address);
  CpuAllocatorStats after = cpu_allocator_stats();
  CHECK(after.cache_hits == before.cache_hits + 1);
  CHECK(after.cache_misses == before.cache_misses + 1);
  // A much smaller request does not take the big block.
  Tensor small = empty({1 << 18}, DType::Float64);
  CHECK(small.data_ptr() != first_address);
  release_cpu_cache();
  CHECK(cpu_allocator_stats().cached_bytes == 0);
}
