#ifndef QUANTD_TESTS_GLIBC_MALLOC_H_
#define QUANTD_TESTS_GLIBC_MALLOC_H_

// Whether malloc is glibc's: ASan and TSan replace it with their own
// allocator, which mallinfo2 and malloc_trim do not see. GCC says so with
// __SANITIZE_*__, clang with __has_feature.

namespace quantd::testing_support {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kGlibcMalloc = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kGlibcMalloc = false;
#else
inline constexpr bool kGlibcMalloc = true;
#endif
#else
inline constexpr bool kGlibcMalloc = true;
#endif

}  // namespace quantd::testing_support

#endif  // QUANTD_TESTS_GLIBC_MALLOC_H_
