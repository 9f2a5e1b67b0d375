//! `system df` (the API's `/system/df`): images, containers, volumes and the build cache
//! with their sizes, as Docker reports them; and what removing the unused ones frees.

use crate::engine::Engine;
use crate::error::Result;
use crate::image::ImageUsage;
use crate::list::{ContainerSummary, ListOptions};

/// One volume in `system df`: how many containers use it and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeUsage {
    pub name: String,
    /// Containers (any state) that mount it.
    pub links: usize,
    pub size: u64,
}

/// What `system df` shows.
#[derive(Debug, Clone)]
pub struct SystemDf {
    /// The image store's totals: disk taken by unpacked layers and stored blobs, and what
    /// removing the images no container uses would free.
    pub store: berth_image::DiskUsage,
    pub images: Vec<ImageUsage>,
    /// Every container, newest first, with its writable layer's size.
    pub containers: Vec<ContainerSummary>,
    pub volumes: Vec<VolumeUsage>,
}

impl ContainerSummary {
    /// Running, paused or restarting: what Docker counts as an active container (a
    /// stopped one's writable layer is reclaimable).
    pub fn is_active(&self) -> bool {
        self.state.is_live()
    }
}

impl Engine {
    /// The disk usage of images, containers and volumes (Berth has no build cache yet).
    pub fn system_df(&self) -> Result<SystemDf> {
        let containers = self.list(&ListOptions {
            all: true,
            size: true,
            ..Default::default()
        })?;
        let mut volumes = Vec::new();
        for v in self.volumes()? {
            volumes.push(VolumeUsage {
                links: self.volume_users(&v.name)?.len(),
                size: crate::volumes::dir_size(&self.paths.volume_data(&v.name)),
                name: v.name,
            });
        }
        Ok(SystemDf {
            store: self.disk_usage()?,
            images: self.images_usage()?,
            containers,
            volumes,
        })
    }
}
