#ifndef QUANTD_CLIENT_LIST_PAGES_H_
#define QUANTD_CLIENT_LIST_PAGES_H_

#include "client/commands.h"
#include "grpcpp/client_context.h"

namespace quantd::client {

// Calls a paged List RPC until its last page and merges the pages into
// `all` (repeated fields appended), so that list-* commands show everything
// whatever the server's page size. `call` is (context, request, page) ->
// grpc::Status, e.g. a lambda around the stub's method.
template <typename Request, typename Response, typename Call>
grpc::Status ListAllPages(Request request, const ClientOptions& options, Response& all,
                          Call&& call) {
  while (true) {
    grpc::ClientContext context;
    SetUnaryDeadline(context, options);
    Response page;
    const grpc::Status status = call(&context, request, &page);
    if (!status.ok()) return status;
    all.MergeFrom(page);
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  all.clear_next_page_token();
  return grpc::Status::OK;
}

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_LIST_PAGES_H_
