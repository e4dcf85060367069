// SPDX-License-Identifier: Apache-2.0
// Result<T>: a value or an Error, with std::expected's member names so we can switch later.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ipsec {

// An error as a value. `message` names the object and the cause; `code` is
// an errno value when the cause came from the system or the kernel, else 0.
struct Error {
  std::string message;
  int code = 0;
};

template <class E>
class Unexpected {
 public:
  explicit Unexpected(E e) : error_(std::move(e)) {}
  E& error() & { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};

inline Unexpected<Error> fail(std::string message, int code = 0) {
  return Unexpected<Error>(Error{std::move(message), code});
}
inline Unexpected<Error> fail(Error e) { return Unexpected<Error>(std::move(e)); }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT implicit
  Result(Unexpected<Error> e) : v_(std::in_place_index<1>, std::move(e).error()) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!has_value());
    return std::get<1>(v_);
  }
  Error& error() {
    assert(!has_value());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected<Error> e) : error_(std::move(e).error()), ok_(false) {}  // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { assert(ok_); }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }
  Error& error() {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

inline Result<void> ok() { return {}; }

}  // namespace ipsec
