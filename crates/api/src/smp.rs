//! Strategic merge patch (stub: being written).
