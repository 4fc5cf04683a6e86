// Shell-style wildcard matching for the `glob:` operator: `*` any run of characters, `?` one
// character, `[abc]`, `[a-z]`, `[!abc]` / `[^abc]` one character of (or not of) a set, `\x` a
// literal x. Byte-wise and case-sensitive. Pure and allocation-free; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bulkwarden::policy {

// True when the whole of `text` matches `pattern`.
bool globMatch(std::string_view pattern, std::string_view text);

// Why `pattern` is not a usable glob ("unclosed '[' at offset 3"), or nullopt when it is.
std::optional<std::string> globError(std::string_view pattern);

}  // namespace bulkwarden::policy
