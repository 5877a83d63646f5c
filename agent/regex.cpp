#include "agent/regex.h"

#include <re2/re2.h>

namespace assets {

Regex::Regex(std::string pattern)
    : pattern_(std::move(pattern)), compiled_(std::make_shared<const re2::RE2>(pattern_, re2::RE2::Quiet)) {}

bool Regex::ok() const { return compiled_->ok(); }
std::string Regex::error() const { return compiled_->error(); }
bool Regex::full_match(std::string_view text) const { return re2::RE2::FullMatch(text, *compiled_); }
bool Regex::partial_match(std::string_view text) const { return re2::RE2::PartialMatch(text, *compiled_); }

}  // namespace assets
