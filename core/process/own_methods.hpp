// The methods a node serves itself, because they act on the node and no plugin may:
//   REQOpCommand            the operations of process/operations.hpp, from the message's `operation`
//   REQKeysUpdate           central's signed trusted set, data = [set JSON, signature]
//   REQWorkflow             a workflow's steps, through the handlers of the methods they name
//                           (process/workflow_method.hpp); off unless started
//   REQCopySrc              data = [source path, destination node, destination path, chunk
//                           size?]: sends the file in chunks (process/copier.hpp); off unless started
//   REQCopyDst              one chunk of a file sent here (process/copy_writer.hpp); off unless
//                           started; rerunnable
//   REQCopyResult           a reply method: the answers to the chunks this node sent
//   REQStartupFolderList    the files of the startup folder (JSON array)
//   REQStartupFolderWrite   data = [file name, message JSON]: checked as input, then written
//   REQStartupFolderRemove  data = [file name, …]: all removed, or none
// All are commands with an ACK, sequenced; all but REQWorkflow are allowed from the central node by
// default (message/methods.hpp).
#pragma once

#include "core/process/catalog.hpp"
#include "core/process/copier.hpp"
#include "core/process/copy_writer.hpp"
#include "core/process/operations.hpp"
#include "core/process/startup_folder.hpp"
#include "core/process/trust_keeper.hpp"
#include "core/process/workflow_method.hpp"

#include <functional>
#include <string_view>

namespace steward::process {

// What the own methods act on; each must outlive the catalog's subscribers.
struct OwnParts {
  NodeOperations& operations;
  TrustKeeper& keys;
  StartupFolder& startup;
  // Whether the node would take `json` as input (Node::check), without taking it.
  std::function<Status(std::string_view json)> checkInput;
  // The handler of a workflow's step, if its sender may call it here.
  StepHandlers stepHandlers;
  Copier& copier;
  CopyWriter& copyWriter;
};

// Makes them known to `catalog`.
void addOwnMethods(Catalog& catalog, OwnParts parts);

}  // namespace steward::process
