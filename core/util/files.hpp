// Files the daemon reads from folders anyone with a shell may have written, and files it writes
// where a crash must leave either the old content or the new, never half of one.
#pragma once

#include "core/util/result.hpp"

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace steward::files {

// The content of a regular file, opened without following a link, up to `limit` bytes. The error
// says why not, ending in "(skipped)" for what a folder reader passes over: a link, not a regular
// file, larger than the limit.
Result<std::string> readRegular(const std::filesystem::path& path, size_t limit);

// Writes `text` to a new file with `mode`, replacing nothing (O_EXCL: two starts cannot race, and
// a link planted at the name is not followed), and syncs it.
Status writeNew(const std::filesystem::path& file, std::string_view text, mode_t mode);

// Puts `text` at `file` whole or not at all: written and synced under a hidden name beside it,
// then renamed over it, and the folder synced. A link at `file` is replaced, never followed.
Status replace(const std::filesystem::path& file, std::string_view text, mode_t mode);

}  // namespace steward::files
