//! Protobuf request bodies (stub: being written).
