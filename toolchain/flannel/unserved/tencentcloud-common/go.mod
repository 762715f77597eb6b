// Empty stand-in: flannel's go.mod requires this submodule of the Tencent
// Cloud SDK, which the Go module proxy reachable here refuses (403). The
// same packages come from the SDK's single module instead (see ../../go.mod).
module github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common

go 1.21
