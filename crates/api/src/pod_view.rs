//! Pod-shaped cache types: clients that cache every pod (the controllers, the node agent) decode
//! the watch's pods into their own smaller structs with `Pod`'s field names and only the fields
//! they read. [`pod_view!`](crate::pod_view) makes such a struct a Kubernetes resource (kind
//! Pod, `/api/v1/.../pods`) so that kube-rs can watch and cache it like `Pod` itself.

/// Implements k8s-openapi's `Resource` (as `Pod`) and `Metadata` for a struct with a
/// `metadata: ObjectMeta` field; kube-rs's `Resource` follows from them.
#[macro_export]
macro_rules! pod_view {
    ($ty:ty) => {
        impl $crate::k8s::Resource for $ty {
            const API_VERSION: &'static str =
                <$crate::k8s::api::core::v1::Pod as $crate::k8s::Resource>::API_VERSION;
            const GROUP: &'static str =
                <$crate::k8s::api::core::v1::Pod as $crate::k8s::Resource>::GROUP;
            const KIND: &'static str =
                <$crate::k8s::api::core::v1::Pod as $crate::k8s::Resource>::KIND;
            const VERSION: &'static str =
                <$crate::k8s::api::core::v1::Pod as $crate::k8s::Resource>::VERSION;
            const URL_PATH_SEGMENT: &'static str =
                <$crate::k8s::api::core::v1::Pod as $crate::k8s::Resource>::URL_PATH_SEGMENT;
            type Scope = $crate::k8s::NamespaceResourceScope;
        }

        impl $crate::k8s::Metadata for $ty {
            type Ty = $crate::k8s::apimachinery::pkg::apis::meta::v1::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::k8s::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use crate::k8s::{Metadata, Resource};

    #[derive(Default)]
    struct View {
        metadata: ObjectMeta,
    }
    crate::pod_view!(View);

    #[test]
    fn a_pod_view_is_a_pod_resource_with_its_metadata() {
        assert_eq!(View::KIND, "Pod");
        assert_eq!(View::API_VERSION, "v1");
        assert_eq!(View::URL_PATH_SEGMENT, "pods");
        let mut v = View::default();
        v.metadata_mut().name = Some("a".into());
        assert_eq!(v.metadata().name.as_deref(), Some("a"));
    }
}
