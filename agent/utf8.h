#pragma once
// UTF-8 as Prometheus requires it of label values: well-formed, no overlong forms, no
// UTF-16 surrogates, nothing past U+10FFFF. Configuration text and certificate or file
// names from outside need not be.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace assets {

// Length of the well-formed sequence that starts at text[i]; 0 when none does.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i);
bool is_valid_utf8(std::string_view text);
// Offset of the first byte that does not start a well-formed sequence.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);
// The text with every byte that does not belong to a well-formed sequence replaced by '?'.
std::string valid_utf8(std::string_view text);

}  // namespace assets
