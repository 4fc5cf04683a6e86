// Makes text safe to log or print: masks secrets, escapes control characters and invalid UTF-8,
// caps the length. One linear pass, no recursion, no std::regex: a hostile server's reply of any
// size costs time in proportion to its length and a bounded stack.
// Thread-safe: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bulkwarden::log {

// The most a log line's text (after escaping) may take; log::write cuts there.
inline constexpr std::size_t kMaxLineBytes = 8192;
// The default cap for one string from outside (a server's error message, an instance_url, a
// policy name) quoted in a log line or in printed output.
inline constexpr std::size_t kMaxOutsideBytes = 512;
// Input bytes looked at, at most, whatever the cap: the rest counts as truncated.
inline constexpr std::size_t kMaxScanBytes = 1024 * 1024;
// The longest "...[truncated N bytes]" marker appended to capped text.
inline constexpr std::size_t kMaxMarkerBytes = 48;

// Masks what looks like a secret, and leaves everything else as it is:
//   a Salesforce session id (00D<12-15 id chars>!<token>)         -> 00D***
//   a bearer token (Bearer <token>)                               -> Bearer ***
//   a PEM private key block (to its END line, or to the end)      -> [PEM redacted]
//   form fields assertion= client_secret= refresh_token= access_token= password=  -> key=***
//   the same fields and "signature" as JSON members ("key": "value")             -> "key": "***"
//   an Authorization header's value (to the end of its line)      -> Authorization: ***
//   a signed JWT (eyJ...eyJ...sig)                                -> [JWT redacted]
// Linear in the length of `text`.
std::string redactSecrets(std::string_view text);

// Escapes what could end a line, move a terminal's cursor or reorder text: C0 controls and DEL
// as \n \r \t or \xHH, C1 controls, U+2028/U+2029 and the bidirectional embedding, override and
// isolate controls as \uXXXX, and each byte of invalid UTF-8 as \xHH. Backslashes are left
// alone, so escaped text escapes to itself.
std::string escapeControl(std::string_view text);

// Both of the above and a cap: at most `maxBytes` bytes of masked, escaped text, then
// "...[truncated N bytes]" when input was left out (N input bytes). The result holds no
// control character, no invalid UTF-8 and at most maxBytes + kMaxMarkerBytes bytes. Use it for
// every string from outside before it goes into a log line, an error message or printed output.
std::string outside(std::string_view text, std::size_t maxBytes = kMaxOutsideBytes);

}  // namespace bulkwarden::log
