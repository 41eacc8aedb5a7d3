// Output paths: checked before the work, and never left half-written.
//
// A verb checks its -o before it loads a model (check_output_file / check_output_folder), so a
// mistyped path fails in a second, not after the work. While steer writes, every temporary
// output — a file's PATH.tmp-PID (AtomicFile), a run folder being staged, a Hugging Face
// directory being written — is registered here; install_interrupt_cleanup() makes SIGINT and
// SIGTERM remove them before the process ends, so an interrupted run leaves nothing that looks
// like a result.
//
// Failure: the checks throw steer::Error naming the option and the path, with a hint.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace steer {

// `path` can be written as a file: not empty, not an existing directory or special file (FIFO,
// device), its parent folder exists and is writable, and it is none of `inputs` (the files
// the verb reads: writing a model over its own input is refused). `option` names it in errors.
void check_output_file(const std::string& option, const std::string& path,
                       const std::vector<std::string>& inputs = {});

// `path` can be made a folder: not an existing non-directory, and it or its nearest existing
// ancestor is a writable folder; none of `inputs` is it or lies inside it.
void check_output_folder(const std::string& option, const std::string& path,
                         const std::vector<std::string>& inputs = {});

// Temporary outputs: registered while they exist, removed (file or folder tree) on interrupt.
void register_temporary_output(const std::string& path);
void unregister_temporary_output(const std::string& path);
void remove_temporary_outputs();  // removes every registered path now

// Blocks SIGINT and SIGTERM in the calling thread (and so in the threads it starts later),
// starts a thread that waits for them, and has threads started earlier hand them on to it. On a
// signal: `handler` when one is set (the server stops gracefully), else
// remove_temporary_outputs(), a note on stderr, and the process ends by the signal as it would
// have. A signal the process was started ignoring (nohup, a background job) stays ignored. Call
// it first in main().
void install_interrupt_cleanup();
void set_interrupt_handler(std::function<void(int signal)> handler);  // nullptr: back to cleanup

}  // namespace steer
