// Makes Abseil's Mutex, CondVar and Notification visible to ThreadSanitizer.
//
// Debian's Abseil is not built with TSan, so the lock and unlock inside
// libabsl_synchronization are invisible to it: every access that an
// absl::Mutex orders between two threads would be reported as a race, and
// quantd guards its shared state with absl::Mutex throughout. This file
// interposes those functions in TSan builds of the test programs (and only
// there: tests/CMakeLists.txt), calls the library's own through dlsym
// (RTLD_NEXT), and tells TSan about each acquire and release, keyed on the
// object's address. Reader locks are treated as exclusive: that can hide a
// race between two readers, never invent one.
//
// The symbol names are those of Debian bookworm's Abseil (inline namespace
// debian3); a name that does not resolve stops the program at its first use.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

// absl::Duration and absl::Time as passed by value: 16 bytes, two registers.
struct Duration {
  int64_t hi;
  uint32_t lo;
};
using Time = Duration;

template <typename Fn>
Fn Original(const char* symbol) {
  void* fn = dlsym(RTLD_NEXT, symbol);
  if (fn == nullptr) {
    std::fprintf(stderr, "absl_sync_annotations: %s not found in Abseil\n", symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

#define QUANTD_ORIGINAL(type, symbol) static const auto original = Original<type>(symbol)

}  // namespace

extern "C" {

// ---- Mutex: acquired after the library's lock, released before its unlock.

void MutexLock(void* mu) __asm__("_ZN4absl7debian35Mutex4LockEv");
void MutexLock(void* mu) {
  QUANTD_ORIGINAL(void (*)(void*), "_ZN4absl7debian35Mutex4LockEv");
  original(mu);
  __tsan_acquire(mu);
}

void MutexReaderLock(void* mu) __asm__("_ZN4absl7debian35Mutex10ReaderLockEv");
void MutexReaderLock(void* mu) {
  QUANTD_ORIGINAL(void (*)(void*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  original(mu);
  __tsan_acquire(mu);
}

bool MutexTryLock(void* mu) __asm__("_ZN4absl7debian35Mutex7TryLockEv");
bool MutexTryLock(void* mu) {
  QUANTD_ORIGINAL(bool (*)(void*), "_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = original(mu);
  if (locked) __tsan_acquire(mu);
  return locked;
}

bool MutexReaderTryLock(void* mu) __asm__("_ZN4absl7debian35Mutex13ReaderTryLockEv");
bool MutexReaderTryLock(void* mu) {
  QUANTD_ORIGINAL(bool (*)(void*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const bool locked = original(mu);
  if (locked) __tsan_acquire(mu);
  return locked;
}

void MutexUnlock(void* mu) __asm__("_ZN4absl7debian35Mutex6UnlockEv");
void MutexUnlock(void* mu) {
  QUANTD_ORIGINAL(void (*)(void*), "_ZN4absl7debian35Mutex6UnlockEv");
  __tsan_release(mu);
  original(mu);
}

void MutexReaderUnlock(void* mu) __asm__("_ZN4absl7debian35Mutex12ReaderUnlockEv");
void MutexReaderUnlock(void* mu) {
  QUANTD_ORIGINAL(void (*)(void*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  __tsan_release(mu);
  original(mu);
}

// ---- Mutex conditions: Await gives the lock up while it waits.

void MutexAwait(void* mu,
                const void* cond) __asm__("_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
void MutexAwait(void* mu, const void* cond) {
  QUANTD_ORIGINAL(void (*)(void*, const void*), "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(mu);
  original(mu, cond);
  __tsan_acquire(mu);
}

bool MutexAwaitWithTimeout(void* mu, const void* cond, Duration timeout) __asm__(
    "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
bool MutexAwaitWithTimeout(void* mu, const void* cond, Duration timeout) {
  QUANTD_ORIGINAL(bool (*)(void*, const void*, Duration),
                  "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(mu);
  const bool met = original(mu, cond, timeout);
  __tsan_acquire(mu);
  return met;
}

bool MutexAwaitWithDeadline(void* mu, const void* cond, Time deadline) __asm__(
    "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
bool MutexAwaitWithDeadline(void* mu, const void* cond, Time deadline) {
  QUANTD_ORIGINAL(bool (*)(void*, const void*, Time),
                  "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(mu);
  const bool met = original(mu, cond, deadline);
  __tsan_acquire(mu);
  return met;
}

void MutexLockWhen(void* mu,
                   const void* cond) __asm__("_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
void MutexLockWhen(void* mu, const void* cond) {
  QUANTD_ORIGINAL(void (*)(void*, const void*),
                  "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  original(mu, cond);
  __tsan_acquire(mu);
}

bool MutexLockWhenWithTimeout(void* mu, const void* cond, Duration timeout) __asm__(
    "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
bool MutexLockWhenWithTimeout(void* mu, const void* cond, Duration timeout) {
  QUANTD_ORIGINAL(bool (*)(void*, const void*, Duration),
                  "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = original(mu, cond, timeout);
  __tsan_acquire(mu);
  return met;
}

bool MutexLockWhenWithDeadline(void* mu, const void* cond, Time deadline) __asm__(
    "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
bool MutexLockWhenWithDeadline(void* mu, const void* cond, Time deadline) {
  QUANTD_ORIGINAL(bool (*)(void*, const void*, Time),
                  "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const bool met = original(mu, cond, deadline);
  __tsan_acquire(mu);
  return met;
}

// ---- CondVar: waiting gives the mutex up and takes it back.

void CondVarWait(void* cv, void* mu) __asm__("_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
void CondVarWait(void* cv, void* mu) {
  QUANTD_ORIGINAL(void (*)(void*, void*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  original(cv, mu);
  __tsan_acquire(mu);
}

bool CondVarWaitWithTimeout(void* cv, void* mu, Duration timeout) __asm__(
    "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
bool CondVarWaitWithTimeout(void* cv, void* mu, Duration timeout) {
  QUANTD_ORIGINAL(bool (*)(void*, void*, Duration),
                  "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = original(cv, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVarWaitWithDeadline(void* cv, void* mu, Time deadline) __asm__(
    "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
bool CondVarWaitWithDeadline(void* cv, void* mu, Time deadline) {
  QUANTD_ORIGINAL(bool (*)(void*, void*, Time),
                  "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = original(cv, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

// ---- Notification: what happened before Notify is visible after a wait.

void NotificationNotify(void* n) __asm__("_ZN4absl7debian312Notification6NotifyEv");
void NotificationNotify(void* n) {
  QUANTD_ORIGINAL(void (*)(void*), "_ZN4absl7debian312Notification6NotifyEv");
  __tsan_release(n);
  original(n);
}

void NotificationWait(const void* n) __asm__(
    "_ZNK4absl7debian312Notification19WaitForNotificationEv");
void NotificationWait(const void* n) {
  QUANTD_ORIGINAL(void (*)(const void*), "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  original(n);
  __tsan_acquire(const_cast<void*>(n));
}

bool NotificationWaitWithTimeout(const void* n, Duration timeout) __asm__(
    "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
bool NotificationWaitWithTimeout(const void* n, Duration timeout) {
  QUANTD_ORIGINAL(bool (*)(const void*, Duration),
                  "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = original(n, timeout);
  if (notified) __tsan_acquire(const_cast<void*>(n));
  return notified;
}

bool NotificationWaitWithDeadline(const void* n, Time deadline) __asm__(
    "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
bool NotificationWaitWithDeadline(const void* n, Time deadline) {
  QUANTD_ORIGINAL(bool (*)(const void*, Time),
                  "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = original(n, deadline);
  if (notified) __tsan_acquire(const_cast<void*>(n));
  return notified;
}

}  // extern "C"
